package web

import (
	"fmt"
	"net/http"
)

// codeNoDataDir answers a backup of an instance without a data directory.
const codeNoDataDir = "no_data_directory"

// handleBackup streams a consistent backup of the data directory (a
// gzip-compressed tar, see storage.Restore). A failure once the stream has
// begun cannot change the status: the stream then lacks its closing entry,
// and restore refuses it as truncated.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	if s.backup == nil {
		writeError(w, http.StatusConflict, codeNoDataDir, "this instance keeps no data directory (Redis mode or storage.memory): back up Redis and the configuration instead (docs/operations.md)")
		return
	}
	name := fmt.Sprintf("citywall-backup-%s.tar.gz", s.now().UTC().Format("20060102T150405Z"))
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := s.backup(w); err != nil {
		s.logError(r, "backup failed; the stream sent is incomplete", err)
		return
	}
	s.httpLog.InfoContext(r.Context(), "backup sent", "file", name)
}
