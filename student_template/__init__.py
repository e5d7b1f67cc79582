"""The files a student starts from (rnn.py, README.md); a regular package so that
`importlib.resources` finds them in every install mode, editable ones included."""
