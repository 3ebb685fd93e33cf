package envdrift

import (
	"fmt"
	"path/filepath"
)

// checkFolder refuses a mapping folder that the configuration names inside
// its directory but that resolves, through a symlink, to a directory outside
// it: the keys file would be written somewhere allow_external_paths does not
// allow. Symlinks that stay inside the configuration's directory are
// followed. Folders the configuration names outside its directory were
// already allowed (or refused) when it was loaded.
func (s *Syncer) checkFolder(m Mapping, dir string) error {
	if s.cfg.AllowExternalPaths || s.cfg.Dir == "" || filepath.IsAbs(m.FolderPath) || !filepath.IsLocal(filepath.Clean(m.FolderPath)) {
		return nil
	}
	realDir := s.realConfigDir
	if realDir == nil {
		realDir = s.evalConfigDir
	}
	base, err := realDir()
	if err != nil {
		return fmt.Errorf("folder %s: %w", m.FolderPath, err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("folder %s: %w", m.FolderPath, err)
	}
	if rel, err := filepath.Rel(base, real); err != nil || !filepath.IsLocal(rel) && rel != "." {
		return fmt.Errorf("%w: folder %s is a symlink to %s, outside the configuration's directory; "+
			"set [vault.sync] allow_external_paths = true to allow it", ErrUnsafePath, m.FolderPath, real)
	}
	return nil
}

// evalConfigDir returns the configuration's directory with symbolic links
// resolved.
func (s *Syncer) evalConfigDir() (string, error) { return filepath.EvalSymlinks(s.cfg.Dir) }
