/* "Another program" for the Windows suite: reads and writes generic
 * credentials straight through CredReadW/CredWriteW, as other tools do.
 *   credtool write TARGET USERNAME HEXBLOB   exit 0, or 1 with the error code
 *   credtool read TARGET                     "user=U\nblob=HEX\n", exit 0;
 *                                            exit 2 when there is none
 * Blobs travel as hex so that no command-line quoting can change them. */
#include <windows.h>
#include <wincred.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(wchar_t c)
{
    if (c >= L'0' && c <= L'9') return c - L'0';
    if (c >= L'a' && c <= L'f') return c - L'a' + 10;
    if (c >= L'A' && c <= L'F') return c - L'A' + 10;
    return -1;
}

int wmain(int argc, wchar_t **argv)
{
    if (argc == 5 && wcscmp(argv[1], L"write") == 0) {
        size_t n = wcslen(argv[4]);
        BYTE *blob = malloc(n / 2 + 1);
        CREDENTIALW c;
        size_t i;
        if (n % 2 != 0) return 3;
        for (i = 0; i < n / 2; i++) {
            int hi = hexval(argv[4][2 * i]), lo = hexval(argv[4][2 * i + 1]);
            if (hi < 0 || lo < 0) return 3;
            blob[i] = (BYTE)(hi * 16 + lo);
        }
        memset(&c, 0, sizeof c);
        c.Type = CRED_TYPE_GENERIC;
        c.TargetName = argv[2];
        c.UserName = argv[3];
        c.CredentialBlobSize = (DWORD)(n / 2);
        c.CredentialBlob = blob;
        c.Persist = CRED_PERSIST_LOCAL_MACHINE;
        if (!CredWriteW(&c, 0)) {
            printf("CredWriteW failed: %lu\n", GetLastError());
            return 1;
        }
        return 0;
    }
    if (argc == 3 && wcscmp(argv[1], L"read") == 0) {
        PCREDENTIALW c;
        DWORD i;
        if (!CredReadW(argv[2], CRED_TYPE_GENERIC, 0, &c)) {
            DWORD e = GetLastError();
            if (e == ERROR_NOT_FOUND) return 2;
            printf("CredReadW failed: %lu\n", e);
            return 1;
        }
        printf("user=%ls\nblob=", c->UserName ? c->UserName : L"");
        for (i = 0; i < c->CredentialBlobSize; i++) printf("%02x", c->CredentialBlob[i]);
        printf("\n");
        CredFree(c);
        return 0;
    }
    fprintf(stderr, "usage: credtool write TARGET USERNAME HEXBLOB | credtool read TARGET\n");
    return 3;
}
