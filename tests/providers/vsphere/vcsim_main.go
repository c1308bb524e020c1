// Launcher for the govmomi vSphere simulator (Debian ships the library, not the vcsim command).
// Prints one line "VCSIM_URL=<sdk url> DATASTORE_ROOT=<dir>" when ready; exits cleanly on SIGTERM.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	vms := flag.Int("vms", 2, "virtual machines per host")
	flag.Parse()

	model := simulator.VPX()
	model.Machine = *vms
	if err := model.Create(); err != nil {
		log.Fatalf("cannot create the model: %v", err)
	}
	model.Service.Listen = &url.URL{Host: *listen}
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()

	fmt.Printf("VCSIM_URL=%s PID=%d\n", server.URL, os.Getpid())
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	server.Close()
	model.Remove()
}
