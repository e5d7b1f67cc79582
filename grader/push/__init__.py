"""Grades pushed to the LMS through its REST API (`bptt-grader push canvas|moodle OUT`):
what would change (old -> new), sending with throttling, a log of what was sent (so a rerun
resumes and a second rerun changes nothing), and a read-back that checks the LMS holds it."""
