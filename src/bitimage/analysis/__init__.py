"""Image analysis: analysers, the service that stores their results, and its worker."""
