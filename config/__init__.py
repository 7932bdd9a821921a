"""The bottom of the house: settings every process reads, and how each process runs
Python (event loop, heap, bounds on awaits); imports only `topics`."""
