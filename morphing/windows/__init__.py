"""Windows guests: registry facts, the operator's virtio-win drivers, the first-boot service."""
