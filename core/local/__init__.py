"""Local fine-tunes on this machine's GPUs (Unsloth): recipes, generated scripts, detached runs.

Nothing here imports torch, unsloth or trl: training runs in the Python environment a ``local`` profile
names, as a detached process the app launches, watches through files and re-attaches to after a restart.
"""
