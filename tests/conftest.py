"""The tests mirror the packages (tests/intake/, tests/sandbox/, tests/checks/,
tests/outputs/, tests/batch/); the corpora (submissions/, hostile/, suspicious/) and
the zip builder (zipfactory.py) shared by several rooms stay here, importable from all."""
