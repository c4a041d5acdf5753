// Command registry serves the images critest pulls, rebuilt from a static
// busybox by internal/testimage, from a registry on loopback. It prints one
// line per registry host it can mirror and "ready" once every image is in,
// then serves until killed:
//
//	registry -busybox bin/critest-busybox/busybox -addr 127.0.0.1:0
//	mirror registry.k8s.io=http://127.0.0.1:40123
//	mirror gcr.io=http://127.0.0.1:40123
//	ready
//
// It is its own module (test/critest/registry/go.mod): the critest module
// around it pins cri-tools' dependencies, which the main module's must not
// move, and the main module must not depend on cri-tools.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/criserver/criserver/internal/testimage"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	busybox := flag.String("busybox", "bin/critest-busybox/busybox", "static busybox the images are built from (test/critest/busybox/build.sh)")
	verbose := flag.Bool("v", false, "log every request")
	flag.Parse()
	if err := run(*addr, *busybox, *verbose); err != nil {
		log.Fatal(err)
	}
}

func run(addr, busybox string, verbose bool) error {
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %q: want a loopback address", addr)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logw := io.Discard
	if verbose {
		logw = os.Stderr
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(logw, "registry: ", 0)))}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	r := &testimage.Registry{Host: lis.Addr().String()}
	refs, err := r.PushCritest(busybox)
	if err != nil {
		return err
	}
	for _, h := range testimage.CritestRegistries {
		fmt.Printf("mirror %s=http://%s\n", h, r.Host)
	}
	fmt.Println("ready")
	log.Printf("serving %d critest images on http://%s", len(refs), r.Host)
	return <-errc
}
