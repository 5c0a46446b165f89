package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mgmtgen/mgmtgen/internal/codegen"
)

// writeFiles writes files into dir, creating it if needed. A file whose
// content is already current is left alone (its modification time too, so
// build caches and make stay quiet); others are written to a temporary file
// in dir and renamed over the old one. It returns how many files it wrote.
func writeFiles(dir string, files []codegen.OutFile) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	written := 0
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, f.Content) {
			continue
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return written, err
		}
		if err := writeAtomic(path, f.Content); err != nil {
			return written, err
		}
		written++
	}
	return written, nil
}

// writeAtomic replaces path with content through a temporary file in the
// same directory and a rename, so path is never seen half written.
func writeAtomic(path string, content []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(content); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
