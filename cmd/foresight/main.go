// Command foresight is Foresight's one binary: the all-in-one dev mode, each service as
// its own process, and the user tools (analyze, bench, submit, migrate).
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `foresight — predictive workflow orchestration

Usage:
  foresight dev [flags]            all six services in one process (embedded NATS, local Postgres)
  foresight <service>              run one service: gateway, graphbuilder, predictor,
                                   allocator, poolmanager, monitor (config from FORESIGHT_*)
  foresight migrate                apply database migrations to FORESIGHT_DATABASE_URL
  foresight submit FILE [--url U]  submit a workflow to a gateway and follow it
  foresight analyze FILE [-o json] analyse a native or WfFormat workflow
  foresight bench --traces DIR     replay WfFormat traces through the production cores
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(rest, stdout, stderr)
	case "gateway", "graphbuilder", "predictor", "allocator", "poolmanager", "monitor":
		return runService(cmd)
	case "migrate":
		return runMigrate(stderr)
	case "submit":
		return runSubmit(rest, stdout, stderr)
	case "analyze":
		return runAnalyze(rest, stdout, stderr)
	case "bench":
		return runBench(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "foresight: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
