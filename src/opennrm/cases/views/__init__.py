"""Views of the cases app, one module per area. Shared helpers live in `common.py`."""
