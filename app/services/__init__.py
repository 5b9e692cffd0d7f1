"""Services: everything that reads or changes the intent, free of any web framework."""
