// Package build builds images from Dockerfiles in the daemon. BuildKit's
// parser and instruction packages read the Dockerfile; everything after is
// criserver's own: FROM takes an image of the store (pulled when missing)
// or a stage built before; config instructions change the image config;
// COPY makes a layer from the build context or another stage; RUN runs the
// command as a container through the daemon's own pods and turns the files
// it changed (its overlay upper directory) into a layer. Every step commits
// an untagged image to the store, so that the next one runs on it and a
// later build can reuse it: the layer cache maps a step (its parent image,
// instruction and, for COPY and ADD, the digest of the files it reads,
// downloads and here-documents included) to the image it made; Prune and
// DropImages keep it from outliving those images.
package build
