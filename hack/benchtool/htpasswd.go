package main

import (
	"fmt"
	"io"

	"golang.org/x/crypto/bcrypt"
)

// runHtpasswd prints one htpasswd line (bcrypt, default cost, as
// `htpasswd -B` writes it): htpasswd USER PASSWORD.
func runHtpasswd(args []string, out io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("htpasswd USER PASSWORD\n%w", errUsage)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(args[1]), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s:%s\n", args[0], h)
	return err
}
