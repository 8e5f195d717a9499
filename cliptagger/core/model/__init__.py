"""The CLIP model: catalog, device, weights (download, local files), precision, loading."""
