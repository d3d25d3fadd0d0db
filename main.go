package stellar

import (
	"io"
	"os"

	"github.com/stellarfw/stellar-go/internal/cli"
	"github.com/stellarfw/stellar-go/internal/node"
	"github.com/stellarfw/stellar-go/task"
)

// Exit statuses of Main.
const (
	ExitOK      = cli.ExitOK      // the command did what was asked
	ExitFailure = cli.ExitFailure // the node failed while running, or did not stop cleanly
	ExitUsage   = cli.ExitUsage   // bad flags, bad configuration, or a listener that cannot bind
)

// DefaultClusterRedisURL is the Redis that startCluster uses when none is
// configured.
const DefaultClusterRedisURL = cli.DefaultClusterRedisURL

// Main runs the stellar command line with args (os.Args) and returns the
// exit status: os.Exit(app.Main(os.Args)).
//
//	run           start one node
//	config        print the effective configuration, secrets masked
//	tasks         inspect and manage task queues
//	cluster       list the live nodes of the cluster
//	docs          print the OpenAPI document of the actions and routes
//	version       print versions
//	startCluster  run N nodes on this machine, supervised
//	help          show this help
func (a *App) Main(args []string) int {
	return a.main(args, os.Stdout, os.Stderr)
}

func (a *App) main(args []string, stdout, stderr io.Writer) int {
	return cli.Main(cliApp{a}, cli.Info{Base: a.base, Version: Version}, args, stdout, stderr)
}

// cliApp is the App as the command line sees it.
type cliApp struct{ *App }

func (c cliApp) TaskManager() *task.Manager { return c.Tasks }

func (c cliApp) OpenAPI() ([]byte, error) { return node.OpenAPI(c.Config(), c.Actions, c.Routes) }
