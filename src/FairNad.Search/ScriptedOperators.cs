namespace FairNad.Search;

/// <summary>One operator the scripted designer writes: a name for summaries and the C# source it answers with.</summary>
public sealed record ScriptedOperator(string Name, string Description, string Source);

/// <summary>
/// The scripted designer's small fixed library of operators (<see cref="ScriptedDesigner"/>): well-formed TorchSharp
/// modules that follow <see cref="LlmSpecMutator.OperatorContract"/> for any channel count and stride, so LLM-written
/// operators (prompt, sandbox, verification worker, store, lineage, replay) run end to end on a machine with no model.
/// The sources are fixed text: their SHA-256 is part of every candidate id that uses them, so editing one changes ids and
/// must come with a new <see cref="ScriptedDesigner.Version"/>.
/// </summary>
public static class ScriptedOperators
{
    private const string Usings = "using System;\nusing TorchSharp;\nusing static TorchSharp.torch;\n\n";

    /// <summary>GhostNet's ghost module: half the output channels by a (strided) 1 x 1 convolution, the rest by a cheap depthwise 3 x 3 one.</summary>
    public static ScriptedOperator Ghost { get; } = new("GhostModule", "a ghost module (half the channels by a 1 x 1 convolution, the rest by a cheap depthwise 3 x 3 one)",
        LlmSpecMutator.OperatorExample); // the prompt's example, word for word: one text, one hash

    /// <summary>A gated linear unit over a 3 x 3 convolution (GLU conv): one convolution makes value and gate, value * sigmoid(gate).</summary>
    public static ScriptedOperator GatedConv { get; } = new("GatedConv", "a gated 3 x 3 convolution (GLU: value * sigmoid(gate), both from one convolution)", Usings + """
        public sealed class GatedConv : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> conv;
            private readonly nn.Module<Tensor, Tensor> norm;
            private readonly long channels;

            public GatedConv(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                conv = nn.Conv2d(inChannels, 2 * outChannels, 3, stride: stride, padding: 1, bias: false);
                norm = nn.BatchNorm2d(2 * outChannels);
                channels = outChannels;
                RegisterComponents();
            }

            public override Tensor forward(Tensor input)
            {
                var x = norm.forward(conv.forward(input));
                return x.narrow(1, 0, channels) * torch.sigmoid(x.narrow(1, channels, channels));
            }
        }

        """);

    /// <summary>A gated MLP over channels (gMLP-style): (W1 x) * sigmoid(W2 x), then a 1 x 1 projection; a strided average pool first when stride > 1.</summary>
    public static ScriptedOperator GatedMlp { get; } = new("GatedChannelMlp", "a gated channel MLP ((W1 x) * sigmoid(W2 x), then a 1 x 1 projection)", Usings + """
        public sealed class GatedChannelMlp : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> value;
            private readonly nn.Module<Tensor, Tensor> gate;
            private readonly nn.Module<Tensor, Tensor> project;
            private readonly long step;

            public GatedChannelMlp(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                var hidden = Math.Max(4, inChannels * 2);
                value = nn.Conv2d(inChannels, hidden, 1);
                gate = nn.Conv2d(inChannels, hidden, 1);
                project = nn.Conv2d(hidden, outChannels, 1);
                step = stride;
                RegisterComponents();
            }

            public override Tensor forward(Tensor input)
            {
                var x = step > 1 ? nn.functional.avg_pool2d(input, step, step, ceil_mode: true) : input;
                return project.forward(value.forward(x) * torch.sigmoid(gate.forward(x)));
            }
        }

        """);

    /// <summary>The library in the order the designer cycles through it on repair rounds.</summary>
    public static IReadOnlyList<ScriptedOperator> All { get; } = [Ghost, GatedConv, GatedMlp];
}
