"""Every topic name, partition count, config and wire format of the platform, in one place."""
