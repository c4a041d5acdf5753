// Package imagestore keeps the node's images: it pulls them from OCI
// registries into a content-addressed blob store, unpacks each layer once into
// a directory of its own (keyed by chain ID, in overlayfs form), records images
// in bbolt, and garbage-collects what no image uses.
//
// On-disk layout under the store's root:
//
//	blobs/sha256/<hex>   manifests, indexes, configs and compressed layers
//	layers/<chain hex>/  one unpacked layer, usable as an overlay lowerdir
//	tmp/                 work in progress; emptied on start
//
// Nothing becomes visible before its image record is committed, so a crash at
// any point leaves at most files that the next start sweeps away.
package imagestore
