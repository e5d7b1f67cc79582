"""Untrusted files in: a submission's .py, folder, zip or notebook, its student's name and id,
and the one module to grade. Nothing here runs student code."""
