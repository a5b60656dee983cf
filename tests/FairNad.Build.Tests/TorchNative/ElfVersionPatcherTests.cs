using System.Reflection;
using FairNad.Build.TorchNative;

namespace FairNad.Build.Tests.TorchNative;

public sealed class ElfVersionPatcherTests
{
    private const string IosBaseInit = "_ZSt21ios_base_library_initv";

    /// <summary>The version nodes GCC 12's libstdc++ (Debian 12) defines: GLIBCXX_3.4 .. GLIBCXX_3.4.30 and CXXABI_1.3 .. 1.3.13.</summary>
    private static readonly HashSet<string> Gcc12Versions =
    [
        .. Enumerable.Range(0, 31).Select(i => i == 0 ? "GLIBCXX_3.4" : $"GLIBCXX_3.4.{i}"),
        .. Enumerable.Range(0, 14).Select(i => i == 0 ? "CXXABI_1.3" : $"CXXABI_1.3.{i}"),
        "CXXABI_TM_1", "CXXABI_FLOAT128",
    ];

    private static string LibTorchSharpPath()
    {
        var package = typeof(ElfVersionPatcherTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "TorchSharpPackageDirectory").Value!;
        var path = Path.Combine(package, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"{path} is missing; restore the solution first");
        return path;
    }

    [Fact]
    public void Patch_Gcc12Host_ReportsOnlyIosBaseInitUnderGlibcxx3432()
    {
        var elf = File.ReadAllBytes(LibTorchSharpPath());

        var report = ElfVersionPatcher.Patch(elf, "libstdc++.so.6", Gcc12Versions, apply: false);

        Assert.Contains("GLIBCXX_3.4.32", report.MissingVersions);
        Assert.Equal([IosBaseInit], report.WeakenedSymbols);
    }

    [Fact]
    public void Patch_Apply_ChangesExactlyTheFlagAndTheBinding()
    {
        var original = File.ReadAllBytes(LibTorchSharpPath());
        var patched = (byte[])original.Clone();

        var report = ElfVersionPatcher.Patch(patched, "libstdc++.so.6", Gcc12Versions, apply: true);

        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        Assert.Equal(report.MissingVersions.Count + report.WeakenedSymbols.Count, changed.Count);
        Assert.Contains(changed, i => (patched[i] & 0x2) != 0 && (original[i] & 0x2) == 0); // vna_flags |= VER_FLG_WEAK
        Assert.Contains(changed, i => patched[i] >> 4 == 2 && original[i] >> 4 == 1);          // STB_GLOBAL -> STB_WEAK
        Assert.Equal(original.Length, patched.Length);
    }

    [Fact]
    public void Patch_HostDefinesEveryVersion_NeedsNoPatch()
    {
        var elf = File.ReadAllBytes(LibTorchSharpPath());
        var all = new HashSet<string>(Gcc12Versions) { "GLIBCXX_3.4.31", "GLIBCXX_3.4.32", "GLIBCXX_3.4.33" };

        var report = ElfVersionPatcher.Patch(elf, "libstdc++.so.6", all, apply: false);

        Assert.False(report.NeedsPatch);
        Assert.Empty(report.WeakenedSymbols);
    }

    [Fact]
    public void ReadDefinedVersions_HostLibStdCxx_ListsGlibcxxNodes()
    {
        var host = ElfVersionPatcher.FindHostLibrary("libstdc++.so.6");
        Assert.NotNull(host);

        var versions = ElfVersionPatcher.ReadDefinedVersions(File.ReadAllBytes(host));

        Assert.Contains("GLIBCXX_3.4", versions);
        Assert.Contains("CXXABI_1.3", versions);
    }

    [Fact]
    public void Patch_NotAnElfFile_ThrowsInvalidData()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.Patch(new byte[100], "libstdc++.so.6", Gcc12Versions, apply: false));
    }

    [Fact]
    public void Resolve_HostMissingVersion_WritesPatchedCopyOnceAndKeepsSource()
    {
        var source = LibTorchSharpPath();
        var sourceBytes = File.ReadAllBytes(source);
        var directory = Path.Combine(Path.GetTempPath(), "fairnad-elf-" + Path.GetRandomFileName());
        var fakeHost = Path.Combine(directory, "host", "libstdc++.so.6");
        Directory.CreateDirectory(Path.GetDirectoryName(fakeHost)!);
        var realHost = ElfVersionPatcher.FindHostLibrary("libstdc++.so.6")!;
        File.Copy(realHost, fakeHost);
        var target = Path.Combine(directory, "out", "libLibTorchSharp.so");
        var log = new List<string>();
        try
        {
            var hostVersions = ElfVersionPatcher.ReadDefinedVersions(File.ReadAllBytes(fakeHost));
            var expectPatch = !hostVersions.Contains("GLIBCXX_3.4.32");

            var first = TorchSharpNativeFix.Resolve(source, target, fakeHost, log.Add);
            var firstWrite = File.Exists(target) ? File.GetLastWriteTimeUtc(target) : default;
            var second = TorchSharpNativeFix.Resolve(source, target, fakeHost, log.Add);

            Assert.Equal(expectPatch ? target : source, first);
            Assert.Equal(first, second);
            Assert.Equal(sourceBytes, File.ReadAllBytes(source));
            if (expectPatch)
            {
                Assert.Single(log); // the second call found the copy up to date
                Assert.Equal(firstWrite, File.GetLastWriteTimeUtc(target));
                Assert.NotEqual(sourceBytes, File.ReadAllBytes(target));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Resolve_NoHostLibrary_UsesSourceUnchanged()
    {
        var source = LibTorchSharpPath();
        var log = new List<string>();

        var result = TorchSharpNativeFix.Resolve(source, Path.Combine(Path.GetTempPath(), "never-written.so"), null, log.Add);

        Assert.Equal(source, result);
        Assert.Contains("no libstdc++.so.6 found", log.Single());
    }
}
