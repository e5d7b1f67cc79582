"""Well-known public solutions of this lab, written out by the project (not copied), that
similarity.py compares every submission with: a copy of one of them, renamed, is flagged."""
