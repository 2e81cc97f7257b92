"""One release run: claim, extract, anonymize, write, verify, publish, report; its service and tasks."""
