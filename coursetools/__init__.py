"""Course tooling, apart from the lesson library `helpers`: grading, navigation, exercise, outputs, dataset, benchmark."""
