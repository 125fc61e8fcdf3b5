"""Datasets: synthetic exams, imported exams, their DRIM-M KOS, and the catalogue."""
