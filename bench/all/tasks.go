package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// taskTables runs bench/taskbench (its own module, so that asynq stays
// out of the main one) and returns its report as a block.
func taskTables(dir, stamp string) string {
	cmd := exec.Command("go", "run", ".", "-runs", strconv.Itoa(*rounds))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		log.Fatalf("bench/taskbench: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s; `cd bench/taskbench && go run . -runs %d`, started by bench/all:\n\n", stamp, *rounds)
	b.WriteString("```text\n")
	b.Write(bytes.TrimSpace(out))
	b.WriteString("\n```\n")
	return b.String()
}
