// Package transcode turns a live H.265 stream into H.264 with ffmpeg, for
// browsers that cannot play H.265: one ffmpeg child process per stream,
// fed one access unit at a time on its standard input (Annex B), its
// output read back as MPEG-TS and split into access units again.
//
// It knows nothing about cameras or viewers: the relay decides when a
// transcode runs, feeds it the frames of its one upstream session and
// shares what comes out. Latency is kept to the encoder's own: the input
// gets an access unit delimiter after every picture, so ffmpeg's parser
// hands it on at once; the encoder runs without lookahead or B-frames
// (-tune zerolatency); and the output's PES packets carry their length
// (or end in stuffing), so a picture is taken the moment its last byte
// arrives instead of when the next one begins.
package transcode
