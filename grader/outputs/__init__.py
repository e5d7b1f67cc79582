"""Views of results: the terminal report and JUnit XML, the student's feedback, the class's
CSV and summary, the merge with the report rubric. Pure functions of GradeResults."""
