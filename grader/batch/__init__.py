"""The `batch` command: a class's download in, one row per student out.

It is four stages over one `Row` record (rows.py), in the order `run.run_batch` lists them:
read the download (intake/layouts.py), grade each submission once in a process of its own
(store.py, one_process.py, local.py or on_dask.py), annotate each row with who it is
(identity.py, roster.py), when it came in (lateness.py) and what the class shows
(class_flags.py), then write every output from the rows (write.py).
"""
