"""What a run says about itself: the summary, the text report, figures and comparisons of runs.

Importing this package imports nothing else: each module here is imported by
what needs it.
"""
