"""A class at once: finding its submissions, grading each in a fresh process (exactly once,
resumable), and writing every output from the list of results."""
