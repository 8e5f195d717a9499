"""The Qt front end. Talks to the core only through the worker and plain data objects."""
