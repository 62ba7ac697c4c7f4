// Package fmp4 writes fragmented MP4 for Media Source Extensions: an init
// segment (ftyp, moov) for H.264, H.265 and AAC tracks, and media fragments
// (moof, mdat) of one sample each, so a relay can hand every frame to its
// viewers the moment it is complete. It knows nothing about cameras or
// sockets; the boxes are written by hand to keep a fragment to one small
// allocation.
package fmp4
