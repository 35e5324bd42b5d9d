"""The Textual app. Reads the run directory through store/, starts trainers through launch.py;
never imports torch (DESIGN.md's import rule, enforced by tests/test_import_rule.py)."""
