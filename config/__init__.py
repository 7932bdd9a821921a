"""The bottom of the house: settings every process reads (imports only `topics`)."""
