"""The one keymap: every key of every screen, with an id, a human label and a tooltip.

Rules it keeps (tests/test_keymap.py checks them):
- one verb per key across screens: `x` cancels a job everywhere, `Del` deletes everywhere, `D` deploys
  everywhere, `c` copies, `r` refreshes, `/` finds, `]`/F3 goes to the next match, Esc goes back;
- the place keys d f n j p (and ? and q) belong to the app and no screen or focusable widget takes them,
  so they work from every screen unless a text input has focus — then Esc leaves the input first;
- screen keys never collide with the keys of the widgets they contain (DataTable's enter, Input's ctrl+d
  and ctrl+u …), so the footer never promises a key that a widget swallows.
"""

from __future__ import annotations

from textual.binding import Binding

NAMED = {
    "right_square_bracket": "]", "left_square_bracket": "[", "question_mark": "?", "slash": "/",
    "exclamation_mark": "!", "delete": "Del", "escape": "Esc", "enter": "Enter", "tab": "Tab",
    "shift+tab": "Shift+Tab", "pageup": "PgUp", "pagedown": "PgDn", "up": "↑", "down": "↓", "left": "←",
    "right": "→", "space": "Space", "home": "Home", "end": "End", "plus": "+", "minus": "-",
}


def key_label(key: str) -> str:
    """`f3` → F3, `right_square_bracket` → ], `ctrl+r` → Ctrl+R, `delete` → Del (one key)."""
    if key in NAMED:
        return NAMED[key]
    *mods, last = key.split("+")
    last = NAMED.get(last, last.upper() if len(last) > 1 or mods else last)
    return "+".join([m.capitalize() for m in mods] + [last])


def keys_label(keys: str) -> str:
    """Every key of a binding, human: `f3,right_square_bracket` → `F3 ]`."""
    return " ".join(key_label(k) for k in keys.split(","))


def bind(keys: str, action: str, description: str, id: str, tooltip: str, show: bool = True,
         priority: bool = False) -> Binding:
    return Binding(keys, action, description, show=show, key_display=key_label(keys.split(",")[0]),
                   priority=priority, id=id, tooltip=tooltip)


PLACES = {  # mode: (key, title, what it is for)
    "datasets": ("d", "Datasets", "browse local data, preview its conversion, validate, upload"),
    "files": ("f", "Files", "remote files, quota, delete"),
    "new-job": ("n", "New job", "hyperparameters and job creation"),
    "jobs": ("j", "Jobs", "every job, live"),
    "deployments": ("p", "Deployments", "deploy, scale, try, evaluate"),
}

BACK = ("escape", "back", "Back")

KEYMAP: dict[str, list[Binding]] = {
    "app": [
        # Shown on the place bar under the header, not in the footer.
        *[bind(key, f"switch_mode('{mode}')", title, f"go-{mode}", help_text, show=False)
          for mode, (key, title, help_text) in PLACES.items()],
        bind("question_mark", "help", "Help", "help", "Every key that works here", show=False),
        bind("q", "quit", "Quit", "quit", "Leave bailian-tui", show=False),
    ],
    "jobs": [
        bind("escape", "back", "Back", "jobs-back", "Clear the filter / leave the filter box", show=False),
        bind("r", "refresh", "Refresh", "jobs-refresh", "Fetch the job list now", show=False),
        bind("w", "toggle_watch", "Watch", "jobs-watch", "Add or remove the job from the watch list"),
        bind("v", "watch_view", "Watched", "jobs-watch-view", "See every watched job live"),
        bind("l", "logs", "Log", "jobs-log", "The job's full log (follow, search, save); Enter too"),
        bind("x", "cancel_job", "Cancel", "jobs-cancel", "Cancel the selected job"),
        bind("delete", "delete_job", "Delete", "jobs-delete", "Delete the selected finished job", show=False),
        bind("o", "sort", "Sort", "jobs-sort", "Sort by created / status / model", show=False),
        bind("slash", "filter", "Find", "jobs-filter", "Show only jobs matching text"),
        bind("c", "copy_model", "Copy model", "jobs-copy", "Copy the fine-tuned model id (OSC 52)", show=False),
        bind("D", "deploy", "Deploy", "jobs-deploy", "Deploy the selected succeeded job's model"),
        bind("K", "checkpoints", "Checkpoints", "jobs-checkpoints", "The job's checkpoints: export one, deploy it", show=False),
    ],
    "watch": [
        bind("escape", "back", "Back", "watch-back", "Back to the job list"),
        bind("tab,down,right", "next_job", "Next job", "watch-next", "Move to the next job", show=False),
        bind("shift+tab,up,left", "previous_job", "Previous job", "watch-previous", "Move to the previous job",
             show=False),
        bind("l,enter", "logs", "Log", "watch-log", "Full log of the current job"),
        bind("x", "cancel_job", "Cancel", "watch-cancel", "Cancel the current job"),
        bind("w", "unwatch", "Watch", "watch-unwatch", "Stop watching the current job"),
        bind("c", "copy_model", "Copy model", "watch-copy", "Copy the fine-tuned model id (OSC 52)", show=False),
        bind("D", "deploy", "Deploy", "watch-deploy", "Deploy the current job's fine-tuned model"),
    ],
    "log": [
        bind("escape", "back", "Back", "log-back", "Back"),
        bind("F", "follow", "Follow", "log-follow", "Keep the newest line in view (toggle)"),
        bind("slash", "search", "Find", "log-search", "Find text in the log"),
        bind("right_square_bracket,f3", "search_next", "Next", "log-next", "Next match", show=False),
        bind("s", "save", "Save", "log-save", "Save the log to a file (the state folder unless a path is given)"),
    ],
    "datasets": [
        bind("escape", "back", "Back", "datasets-back", "Leave the input / back to Jobs", show=False),
        bind("b", "toggle_tree", "Tree", "datasets-tree", "Show or hide the folder tree", show=False),
        bind("g", "jump", "Go to", "datasets-jump", "Jump to record N", show=False),
        bind("slash", "search", "Find", "datasets-search", "Find text in the records"),
        bind("right_square_bracket,f3", "search_next", "Next", "datasets-next", "Next match", show=False),
        bind("exclamation_mark", "filter_findings", "Findings", "datasets-filter",
             "Show only records with findings (again: all records)"),
        bind("h", "stats", "Histogram", "datasets-stats", "Token-length histogram of the converted file"),
        bind("C", "convert", "Convert", "datasets-convert", "Convert and validate the whole file"),
        bind("u", "upload", "Upload", "datasets-upload", "Upload the converted file (validated first)"),
    ],
    "files": [
        bind("escape", "back", "Back", "files-back", "Back to Jobs", show=False),
        bind("r", "refresh", "Refresh", "files-refresh", "Fetch the remote file list now", show=False),
        bind("delete", "delete", "Delete", "files-delete", "Delete the selected remote file"),
        bind("c", "copy_id", "Copy id", "files-copy", "Copy the file_id (OSC 52, works over SSH)"),
    ],
    "new-job": [
        bind("escape", "back", "Back", "job-back", "Leave the field; again: back to Jobs", show=False),
        bind("ctrl+r", "recommended", "Recommended", "job-recommended",
             "Fill every field with its recommended value (batch size fitted to the file)"),
        bind("ctrl+b", "defaults", "Defaults", "job-defaults", "Back to the documented defaults"),
        bind("ctrl+s", "submit", "Create", "job-submit", "Check, show the cost, confirm, create"),
        bind("ctrl+t", "toggle_preview", "Preview", "job-preview",
             "Show the request body and the equivalent dashscope command (focusable, scrolls)"),
        bind("ctrl+o", "upload", "Upload file", "job-upload",
             "Upload a local Bailian file now (validated, deduplicated) and use it"),
    ],
    "deployments": [
        bind("escape", "back", "Back", "dep-back", "Back to Jobs", show=False),
        bind("r", "refresh", "Refresh", "dep-refresh", "Fetch the deployments now", show=False),
        bind("D", "deploy", "Deploy", "dep-deploy", "Deploy a succeeded job's fine-tuned model"),
        bind("S", "scale", "Scale", "dep-scale", "Change the capacity of the selected deployment"),
        bind("delete", "undeploy", "Delete", "dep-delete", "Delete (undeploy) the selected one"),
        bind("t", "try_it", "Try it", "dep-try", "Chat with the selected model"),
        bind("e", "evaluate", "Evaluate", "dep-eval", "Accuracy on a test split vs a base model"),
        bind("c", "copy", "Copy id", "dep-copy", "Copy the deployed model id (OSC 52)", show=False),
    ],
    "checkpoints": [
        bind("escape", "dismiss", "Back", "ckpt-close", "Close"),
        bind("E", "export", "Export", "ckpt-export", "Publish the checkpoint as a model"),
        bind("D", "deploy", "Deploy", "ckpt-deploy", "Deploy the exported checkpoint"),
        bind("r", "refresh", "Refresh", "ckpt-refresh", "Fetch the list again", show=False),
    ],
    "chat": [
        bind("escape", "back", "Back", "chat-back", "Leave the input; again: back"),
        bind("ctrl+l", "clear", "Clear", "chat-clear", "Start a new conversation"),
    ],
}
