#include <archive.h>
#include <archive_entry.h>

// The AE_IF* macros are casts Swift cannot import; these constants carry them.
static const unsigned int pl_ae_ifreg = AE_IFREG;
static const unsigned int pl_ae_ifdir = AE_IFDIR;
static const unsigned int pl_ae_iflnk = AE_IFLNK;
