/* docker's side of a credential-helper call on Windows, for the Windows suite.
 * Go's os/exec (docker's cmd.Output()) gives the helper inheritable pipes as
 * stdin, stdout and stderr, writes stdin, and reads stdout and stderr until
 * EOF, which comes only once every process holding a pipe's write end has
 * closed it: a grandchild that inherited one keeps docker waiting.
 *   pipecaller INPUT EXE ARG    runs `"EXE" ARG` with INPUT on its stdin,
 *                               copies its stdout and stderr to ours, then
 *                               prints on stderr "pipecaller: exit=N eof_ms=M"
 *                               (M: from the start to EOF on both pipes).
 * Exit status: 0, or 3 for a usage or system error. */
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <wchar.h>

static int fail(const char *what)
{
    fprintf(stderr, "pipecaller: %s failed: %lu\n", what, GetLastError());
    return 3;
}

/* Copy a pipe to `out` until EOF (ERROR_BROKEN_PIPE: every writer closed). */
static void drain(HANDLE pipe, FILE *out)
{
    char buf[4096];
    DWORD n;
    while (ReadFile(pipe, buf, sizeof buf, &n, NULL) && n > 0)
        fwrite(buf, 1, n, out);
    fflush(out);
}

int wmain(int argc, wchar_t **argv)
{
    SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
    HANDLE in_r, in_w, out_r, out_w, err_r, err_w;
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    wchar_t cmdline[4096];
    char input[1024];
    DWORD written, code = 0;
    ULONGLONG start, eof_ms;
    int len;

    if (argc != 4)
        return 3;
    /* The helper's bytes as it wrote them: no "\n" turned into "\r\n". */
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
    len = WideCharToMultiByte(CP_UTF8, 0, argv[1], -1, input, sizeof input, NULL, NULL);
    if (len <= 0 || _snwprintf(cmdline, 4096, L"\"%ls\" %ls", argv[2], argv[3]) < 0)
        return 3;
    /* As Go makes them: the child's ends inheritable, ours not. */
    if (!CreatePipe(&in_r, &in_w, &inherit, 0) || !CreatePipe(&out_r, &out_w, &inherit, 0) ||
        !CreatePipe(&err_r, &err_w, &inherit, 0))
        return fail("CreatePipe");
    SetHandleInformation(in_w, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(err_r, HANDLE_FLAG_INHERIT, 0);

    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in_r;
    si.hStdOutput = out_w;
    si.hStdError = err_w;
    start = GetTickCount64();
    if (!CreateProcessW(NULL, cmdline, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        return fail("CreateProcessW");
    CloseHandle(in_r);
    CloseHandle(out_w);
    CloseHandle(err_w);
    WriteFile(in_w, input, (DWORD)(len - 1), &written, NULL);
    CloseHandle(in_w);
    /* The helper's stderr is a line or two: reading stdout first cannot
     * block it on a full pipe. */
    drain(out_r, stdout);
    drain(err_r, stderr);
    eof_ms = GetTickCount64() - start;
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    fprintf(stderr, "pipecaller: exit=%lu eof_ms=%llu\n", code, (unsigned long long)eof_ms);
    return 0;
}
