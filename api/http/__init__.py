"""HTTP plumbing shared by every route and page: errors, keys, limits, metrics, 503s."""
