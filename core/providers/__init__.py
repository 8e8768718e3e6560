"""Providers: every place a fine-tune runs, behind one protocol (see ``base``)."""
