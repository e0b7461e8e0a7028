"""A test-only Kubernetes cluster: an API emulator, a kubelet and a StatefulSet controller."""
