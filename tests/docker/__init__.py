"""The Docker appliance tier: the image built and run under a private dockerd."""
