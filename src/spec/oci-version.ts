// The runtime-spec version tsrunc implements: the `ociVersion` of the documents it writes
// (`spec`, `state`, the state hooks read), `--version`'s `spec:` line and `features`'
// ociVersionMax. Here, in the spec layer, so that every layer above can read the one constant.
export const OCI_VERSION = '1.2.0';
