"""Readers that turn files and downloads into the core's inputs."""
