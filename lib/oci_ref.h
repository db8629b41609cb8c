/*
 * oci_ref.h - image references as people write them, checked and taken
 * apart the way the Docker and OCI tools do:
 *
 *     [REGISTRY[:PORT]/]REPOSITORY[:TAG][@ALGORITHM:HEX]
 *
 * A first component with a dot or a colon, or "localhost", is a registry;
 * otherwise the registry is docker.io, and a one-component repository there
 * is under "library/".  Repository components are lower-case letters and
 * digits joined by ".", "_", "__" or "-"; tags are up to 128 characters of
 * [A-Za-z0-9_.-] not starting with "." or "-"; digests are sha256 (64 hex
 * digits) or sha512 (128).
 */
#ifndef CL_OCI_REF_H
#define CL_OCI_REF_H

#include "error.h"

#define CL_OCI_REF_MAX 512

typedef struct cl_oci_ref {
    char registry[256];       /* "registry.example.com:5000", "docker.io" */
    char repository[256];     /* "library/nginx" */
    char tag[129];            /* "" when absent */
    char digest[136];         /* "" when absent; "sha256:..." */
} cl_oci_ref;

/* CL_EINVALID with a message that says what is wrong with text. */
int cl_oci_ref_parse(cl_oci_ref *out, const char *text, cl_error *err);

#endif
