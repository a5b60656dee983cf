using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace FairNad.Experiments;

/// <summary>
/// The exclusive right to write a run: an flock on <c>results/&lt;run&gt;/.lock</c>, held for as long as the run is open and
/// released by the kernel when the process ends however it ends (kill -9 included), so a lock is never stale. A second
/// search or resume of the same run is refused with the holder's process id, host and start time. The descriptor is
/// opened close-on-exec so worker processes never inherit (and so never keep) the lock.
/// </summary>
public sealed partial class RunLock : IDisposable
{
    public const string FileName = ".lock";

    private const int ReadWrite = 0x2;
    private const int Create = 0x40;
    private const int CloseOnExec = 0x80000;
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private const int WouldBlock = 11;

    private int _descriptor;

    private RunLock(int descriptor, string path)
    {
        _descriptor = descriptor;
        Path = path;
    }

    public string Path { get; }

    /// <exception cref="ExperimentException">another process holds the run; the message names it.</exception>
    public static RunLock Acquire(string runDirectory, string run)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetFullPath(runDirectory), FileName);
        var descriptor = Open(path, ReadWrite | Create | CloseOnExec, Convert.ToInt32("644", 8));
        if (descriptor < 0)
        {
            throw new ExperimentException($"{path}: cannot open the run's lock file (errno {Marshal.GetLastPInvokeError()})");
        }

        if (Flock(descriptor, LockExclusive | LockNonBlocking) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            var holder = ReadAll(descriptor);
            Close(descriptor);
            throw error == WouldBlock
                ? new ExperimentException($"run '{run}' is in use by another fairnad process ({(holder.Length == 0 ? "unknown" : holder)}; lock {path}); wait for it to finish or stop it, then resume")
                : new ExperimentException($"{path}: cannot lock the run (errno {error})");
        }

        var owner = string.Create(CultureInfo.InvariantCulture, $"pid {Environment.ProcessId} on {Environment.MachineName}, since {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss} UTC");
        var bytes = Encoding.UTF8.GetBytes(owner);
        if (Ftruncate(descriptor, 0) != 0 || Pwrite(descriptor, bytes, bytes.Length, 0) != bytes.Length)
        {
            Close(descriptor);
            throw new ExperimentException($"{path}: cannot write the lock holder (errno {Marshal.GetLastPInvokeError()})");
        }

        return new RunLock(descriptor, path);
    }

    /// <summary>Releases the lock (the file stays; it is empty of meaning without the flock).</summary>
    public void Dispose()
    {
        var descriptor = Interlocked.Exchange(ref _descriptor, -1);
        if (descriptor >= 0)
        {
            Close(descriptor);
        }
    }

    private static string ReadAll(int descriptor)
    {
        var buffer = new byte[512];
        var read = Pread(descriptor, buffer, buffer.Length, 0);
        return read > 0 ? Encoding.UTF8.GetString(buffer, 0, (int)read).Trim() : string.Empty;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int descriptor, int operation);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int descriptor, long length);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint Pwrite(int descriptor, byte[] buffer, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static partial nint Pread(int descriptor, byte[] buffer, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
