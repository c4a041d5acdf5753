// Package archive writes and reads the tar streams that cp and commit move:
// a file tree read through directory handles, never following a symlink it
// did not mean to, and an extraction bounded by a root directory.
//
// Both sides resolve names the way the kernel's RESOLVE_IN_ROOT does (through
// github.com/cyphar/filepath-securejoin's pathrs-lite): a symlink in the tree,
// absolute or relative, resolves as if the root were "/", so a container's
// `ln -s / /evil` leads to the container's own root, never the host's. Every
// change is made with *at calls on a handle so resolved, and the last
// component is never followed, so a symlink swapped in meanwhile
// (CVE-2018-15664) cannot redirect a write. Nothing here loads code or
// libraries from the tree it works on (CVE-2019-14271): the daemon reads and
// writes the files itself, in its own process.
package archive
