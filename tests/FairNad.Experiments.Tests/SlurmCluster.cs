using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using FairNad.Experiments.Slurm;

namespace FairNad.Experiments.Tests;

/// <summary>
/// A one-node Slurm cluster of this machine for the tests (../shared/notes/slurm.md, made hermetic): its own munged (own
/// key and socket), slurmctld and slurmd on 127.0.0.1 at free ports chosen at start, with every file in a temporary
/// folder; the daemons are stopped by the PIDs started here and the folder removed. Needs root (slurmd runs jobs as
/// their user) and Debian's packages (slurmctld, slurmd, slurm-client, munge; .ci/run installs them when it can).
/// </summary>
public sealed class SlurmCluster : IDisposable
{
    /// <summary>Set (to 1) by .ci/run after it installed Slurm: a cluster that cannot start is then a failure, not a skip.</summary>
    public const string RequiredVariable = "FAIRNAD_REQUIRE_SLURM";

    public const string Partition = "debug";

    private static readonly string[] Programs = ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "runuser"];

    private static readonly Lazy<string?> Missing = new(() =>
    {
        if (Environment.UserName != "root")
        {
            return "the Slurm tests start a one-node cluster, which needs root (slurmd runs jobs as their user); run them as root";
        }

        var absent = Programs.Where(p => Which(p) is null).ToList();
        return absent.Count == 0 ? null
            : $"the Slurm tests need {string.Join(", ", absent)} on PATH: apt-get install slurmctld slurmd slurm-client munge (as .ci/run does)";
    });

    private readonly List<int> _daemons = [];

    public SlurmCluster()
    {
        if (Unavailable is { } why)
        {
            Problem = why;
            return;
        }

        Directory = System.IO.Directory.CreateTempSubdirectory("fairnad-slurm-").FullName;
        try
        {
            Start();
        }
        catch (Exception e)
        {
            Problem = $"the one-node Slurm cluster did not start: {e.Message}";
            Stop();
            if (Environment.GetEnvironmentVariable(RequiredVariable) == "1")
            {
                throw;
            }
        }
    }

    /// <summary>Why the Slurm tests cannot run here (null: they can); the skip reason of <see cref="SlurmFactAttribute"/>.</summary>
    public static string? Unavailable => Environment.GetEnvironmentVariable(RequiredVariable) == "1" ? null : Missing.Value;

    /// <summary>Why this cluster is not usable (null: it is up).</summary>
    public string? Problem { get; }

    public string Directory { get; } = string.Empty;

    public string ConfigPath => Path.Combine(Directory, "slurm.conf");

    /// <summary>The environment the Slurm commands need to reach this cluster (and that jobs inherit).</summary>
    public IReadOnlyDictionary<string, string> ClientEnvironment => new Dictionary<string, string> { ["SLURM_CONF"] = ConfigPath };

    /// <summary>The Slurm commands of this cluster.</summary>
    public SlurmCommands Commands => new(environment: ClientEnvironment);

    /// <summary>Runs one Slurm command against this cluster; fails the test when it cannot start.</summary>
    public SlurmCommandResult Run(string command, params string[] arguments) => Commands.RunAsync(command, arguments).GetAwaiter().GetResult();

    /// <summary>A slurm.conf like this cluster's whose controller nobody listens at.</summary>
    public string UnreachableConfig()
    {
        var path = Path.Combine(Directory, "unreachable.conf");
        var port = FreePort().ToString(CultureInfo.InvariantCulture);
        File.WriteAllLines(path, File.ReadAllLines(ConfigPath).Select(l => l.StartsWith("SlurmctldPort=", StringComparison.Ordinal) ? $"SlurmctldPort={port}" : l));
        return path;
    }

    public void Dispose() => Stop();

    private void Start()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the one-node cluster runs on Linux");
        }

        // munged as the munge user, its own key and socket; its folder traversable (711) but not readable by others.
        var munge = Path.Combine(Directory, "munge");
        System.IO.Directory.CreateDirectory(munge);
        File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        Exec("chown", "munge:munge", munge);
        File.SetUnixFileMode(munge, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        var socket = Path.Combine(munge, "munge.socket");
        Exec("runuser", "-u", "munge", "--", "mungekey", "--create", $"--keyfile={Path.Combine(munge, "munge.key")}");
        Exec("runuser", "-u", "munge", "--", "munged", $"--socket={socket}", $"--pid-file={Path.Combine(munge, "munged.pid")}", $"--log-file={Path.Combine(munge, "munged.log")}",
            $"--seed-file={Path.Combine(munge, "munged.seed")}", $"--key-file={Path.Combine(munge, "munge.key")}");
        _daemons.Add(WaitForPid(Path.Combine(munge, "munged.pid")));

        var host = Dns.GetHostName().Split('.')[0]; // what `hostname -s` prints: slurmd finds its node by it
        var (controller, node) = (FreePort(), FreePort());
        var memoryMb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var realMemory = long.Parse(memoryMb, CultureInfo.InvariantCulture) / 1024 * 8 / 10;
        foreach (var folder in new[] { "state", "spool" })
        {
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, folder));
        }

        File.WriteAllText(ConfigPath, string.Join("\n",
            "ClusterName=fairnad-test",
            $"SlurmctldHost={host}(127.0.0.1)",
            $"SlurmctldPort={controller}",
            $"SlurmdPort={node}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            $"AuthInfo=socket={socket}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "MpiDefault=none",
            $"StateSaveLocation={Path.Combine(Directory, "state")}",
            $"SlurmdSpoolDir={Path.Combine(Directory, "spool")}",
            $"SlurmctldPidFile={Path.Combine(Directory, "slurmctld.pid")}",
            $"SlurmdPidFile={Path.Combine(Directory, "slurmd.pid")}",
            $"SlurmctldLogFile={Path.Combine(Directory, "slurmctld.log")}",
            $"SlurmdLogFile={Path.Combine(Directory, "slurmd.log")}",
            "ReturnToService=2",
            $"NodeName={host} NodeAddr=127.0.0.1 CPUs={Environment.ProcessorCount} RealMemory={realMemory} State=UNKNOWN",
            $"PartitionName={Partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
            string.Empty));
        foreach (var daemon in new[] { "slurmctld", "slurmd" })
        {
            var start = new ProcessStartInfo(daemon) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-D", "-f", ConfigPath })
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["SLURM_CONF"] = ConfigPath;
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _daemons.Add(process.Id);
        }

        var watch = Stopwatch.StartNew();
        string state;
        while ((state = Run("sinfo", "--noheader", "--format=%t").Text) != "idle")
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException($"the node is not idle after 60 s (sinfo: '{state}'); slurmctld.log: {Tail("slurmctld.log")}; slurmd.log: {Tail("slurmd.log")}");
            }

            Thread.Sleep(250);
        }
    }

    private string Tail(string log)
    {
        var path = Path.Combine(Directory, log);
        var text = File.Exists(path) ? File.ReadAllText(path) : "(none)";
        return text.Length > 1500 ? text[^1500..] : text;
    }

    private void Stop()
    {
        // Jobs first (their processes belong to slurmd), then the daemons by the PIDs started here, the last one first.
        if (_daemons.Count == 3)
        {
            Run("scancel", "--full", $"--partition={Partition}");
        }

        for (var i = _daemons.Count - 1; i >= 0; i--)
        {
            try
            {
                using var process = Process.GetProcessById(_daemons[i]);
                process.Kill();
                process.WaitForExit(10_000);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
        }

        _daemons.Clear();
        if (Directory.Length > 0 && System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private static int WaitForPid(string path)
    {
        var watch = Stopwatch.StartNew();
        while (!File.Exists(path) || File.ReadAllText(path).Trim().Length == 0)
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new InvalidOperationException($"{path} did not appear within 10 s");
            }

            Thread.Sleep(50);
        }

        return int.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Exec(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? output.Result : throw new InvalidOperationException($"{program} {string.Join(" ", arguments)} exited with code {process.ExitCode}: {error}{output.Result}");
    }

    private static string? Which(string program) => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);
}

/// <summary>A test that needs <see cref="SlurmCluster"/>: skipped, with the reason, where the cluster cannot run.</summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    public SlurmFactAttribute()
    {
        if (SlurmCluster.Unavailable is { } why)
        {
            Skip = why;
        }
    }
}
