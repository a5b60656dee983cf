using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Compilation;

namespace FairNad.Evaluation.Tests.Modules;

public sealed class CandidateCodeCheckerTests
{
    // Every probe's offending code sits on line 5 unless the probe says otherwise.
    private static string InMethod(string body) => "class Probe\n{\n    public static void Run()\n    {\n        " + body + "\n    }\n}\n";

    public static TheoryData<string, string, int, string> Probes => new()
    {
        { "file delete", InMethod("System.IO.File.Delete(\"victim.txt\");"), 5, "'System.IO.File.Delete(string)' is not allowed in candidate code (file system)" },
        { "libc system", "using System.Runtime.InteropServices;\nclass Probe\n{\n    [DllImport(\"libc\")]\n    private static extern int system(string command);\n}\n", 4, "DllImportAttribute" },
        { "extern method", "using System.Runtime.InteropServices;\nclass Probe\n{\n    [DllImport(\"libc\")]\n    private static extern int system(string command);\n}\n", 5, "'extern system'" },
        { "Type.GetType", InMethod("var t = System.Type.GetType(\"System.Diagnostics.Process\");"), 5, "'System.Type.GetType(string)' is not allowed in candidate code (reflection)" },
        { "typeof reflection", InMethod("var m = typeof(string).GetMethods();"), 5, "'System.Type.GetMethods()'" },
        { "GetType reflection", InMethod("var m = \"x\".GetType();"), 5, "'object.GetType()' is not allowed in candidate code (reflection)" },
        { "Environment.Exit", InMethod("System.Environment.Exit(1);"), 5, "'System.Environment.Exit(int)' is not allowed in candidate code (runtime control)" },
        { "unsafe block", InMethod("unsafe { int x = 1; int* p = &x; }"), 5, "'unsafe' is not allowed in candidate code (unsafe code)" },
        { "function pointer", InMethod("delegate*<void> f = null;"), 5, "'delegate*<void>' is not allowed in candidate code (function pointer)" },
        { "dynamic", InMethod("dynamic d = 1;"), 5, "'dynamic' is not allowed in candidate code (dynamic)" },
        { "HttpClient", InMethod("var c = new System.Net.Http.HttpClient();"), 5, "'System.Net.Http.HttpClient' is not allowed in candidate code (networking" },
        { "Task.Run", InMethod("System.Threading.Tasks.Task.Run(() => { });"), 5, "'System.Threading.Tasks.Task.Run(System.Action)' is not allowed in candidate code (threads and tasks)" },
        { "static mutable field", "class Probe\n{\n    private const int Fine = 1;\n    public static int Counter;\n}\n", 4, "'static Counter' is not allowed in candidate code (static mutable state)" },
        { "GC.Collect", InMethod("System.GC.Collect();"), 5, "'System.GC.Collect()' is not allowed in candidate code (runtime control)" },
        { "Marshal.AllocHGlobal", InMethod("System.Runtime.InteropServices.Marshal.AllocHGlobal(8);"), 5, "'System.Runtime.InteropServices.Marshal.AllocHGlobal(int)' is not allowed in candidate code (native interop)" },
        { "AssemblyLoadContext", InMethod("var c = new System.Runtime.Loader.AssemblyLoadContext(\"x\");"), 5, "System.Runtime.Loader.AssemblyLoadContext" },
        { "Console", InMethod("System.Console.WriteLine(1);"), 5, "'System.Console.WriteLine' is not allowed in candidate code (console I/O" },
    };

    [Theory]
    [MemberData(nameof(Probes))]
    public void Compile_ForbiddenProbe_RejectedNamingSymbolAndLine(string probe, string source, int line, string expected)
    {
        var error = Assert.Throws<CompilationFailedException>(() => CandidateCompiler.Compile("Probe", [new SourceFile("probe.cs", source)]));

        var rejections = error.Diagnostics.Where(d => d.Id == CandidateCodeChecker.DiagnosticId).ToList();
        Assert.True(rejections.Any(d => d.Line == line && d.Message.StartsWith($"line {line}: ", StringComparison.Ordinal) && d.Message.Contains(expected, StringComparison.Ordinal)),
            $"{probe}: no rejection on line {line} containing {expected}; got:\n{string.Join("\n", error.Diagnostics)}");
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_ProbeDeletingFile_FileStillExists()
    {
        var victim = Path.GetTempFileName();
        try
        {
            var path = victim.Replace("\\", "\\\\", StringComparison.Ordinal);
            var source = "using TorchSharp;\nusing static TorchSharp.torch;\nnamespace FairNad.Candidates.Cprobe;\npublic sealed class Network : nn.Module<Tensor, Tensor>\n{\n"
                + "    public Network() : base(nameof(Network)) { System.IO.File.Delete(\"" + path + "\"); }\n"
                + "    public override Tensor forward(Tensor input) => input;\n}\n";

            var error = Assert.Throws<CompilationFailedException>(() => CandidateCompiler.Compile("Victim", [new SourceFile("victim.cs", source)]));

            Assert.Contains(error.Diagnostics, d => d.Line == 6 && d.Message.Contains("System.IO.File.Delete(string)", StringComparison.Ordinal));
            Assert.True(File.Exists(victim));
        }
        finally
        {
            File.Delete(victim);
        }
    }

    [Fact]
    public void Emit_ForbiddenProbe_NoImage()
    {
        var (image, diagnostics) = CandidateCompiler.Emit("Probe", [new SourceFile("probe.cs", InMethod("System.GC.Collect();"))]);

        Assert.Null(image);
        Assert.Single(diagnostics, d => d.Id == CandidateCodeChecker.DiagnosticId);
    }

    [Fact]
    public void Compile_HandWrittenOperatorOnAllowList_Compiles()
    {
        const string source = """
            using System;
            using System.Collections.Generic;
            using System.Linq;
            using FairNad.Evaluation.Modules;
            using TorchSharp;
            using static TorchSharp.torch;

            namespace Probe;

            public sealed class Gate : nn.Module<Tensor, Tensor>
            {
                private static readonly double Scale = Math.Sqrt(2.0);
                private readonly List<nn.Module<Tensor, Tensor>> _branches;

                public Gate(int channels)
                    : base(nameof(Gate))
                {
                    if (channels <= 0)
                    {
                        throw new ArgumentOutOfRangeException(nameof(channels), $"{channels} channels");
                    }

                    _branches = Enumerable.Range(0, 2).Select(i => Layers.Conv(channels, channels, 1 + 2 * i, 1, 1, 1, false)).ToList();
                    var names = new Dictionary<string, int> { ["a"] = 1 };
                    var (first, second) = (names.Count, MathF.Max(1f, 2f));
                    RegisterComponents();
                }

                public override Tensor forward(Tensor input)
                {
                    var outputs = _branches.Select(b => b.forward(input)).ToArray();
                    return torch.nn.functional.relu(torch.cat(outputs, 1)) * Scale;
                }
            }
            """;

        var (image, diagnostics) = CandidateCompiler.Emit("Hand", [new SourceFile("gate.cs", source)]);

        Assert.True(image is not null, string.Join("\n", diagnostics));
    }

    public static TheoryData<int> Resolutions => new() { 32, 28 };

    [Theory]
    [MemberData(nameof(Resolutions))]
    public void Emit_ReferenceArchitectures_PassCheckerAndCompile(int resolution)
    {
        var input = resolution == 32 ? new InputSpec(3, 32, 10) : new InputSpec(1, 28, 10);
        var sources = ReferenceArchitectures.All(input).Select(s => new SourceFile(s.Name + ".cs", TorchSharpCodeWriter.Write(s))).ToList();

        var (image, diagnostics) = CandidateCompiler.Emit($"Reference{resolution}", sources);

        Assert.True(image is not null, string.Join("\n", diagnostics));
        Assert.DoesNotContain(diagnostics, d => d.Id == CandidateCodeChecker.DiagnosticId);
    }

    [Fact]
    public void Emit_Nb201CellSample_PassCheckerAndCompile()
    {
        var input = Nb201.InputFor("cifar10");
        var sources = Enumerable.Range(0, 16).Select(i => Nb201.ToSpec(Nb201.CellAt(i * 977 % Nb201.CellCount), input))
            .DistinctBy(s => s.Id).Select((spec, i) => new SourceFile($"cell{i}.cs", TorchSharpCodeWriter.Write(spec))).ToList();

        var (image, diagnostics) = CandidateCompiler.Emit("Nb201Sample", sources);

        Assert.True(image is not null, string.Join("\n", diagnostics));
        Assert.DoesNotContain(diagnostics, d => d.Id == CandidateCodeChecker.DiagnosticId);
    }
}
