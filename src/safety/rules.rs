//! Hand-written rules over normalised text, each with an id and a category. They catch
//! the well-known phrasings at once; the learned model ([`super::model`]) catches what they
//! miss. The rules precise on the training corpus flag alone, the others unless the model
//! is fairly sure they are wrong (`model/standing-rules.txt`, the rule bar).
//!
//! Rules read the output of [`crate::safety::normalize::for_safety`], where runs of three
//! letters are cut to one: doubled letters in patterns are written `l+`.

use regex::Regex;
use std::sync::OnceLock;

use super::labels::Category;

struct Rule {
    id: &'static str,
    category: Category,
    pattern: Regex,
    /// A match is dropped when this matches the whole message (school topics, accidents…).
    unless: Option<Regex>,
    /// A match is dropped when a clear negation stands right before it.
    negatable: bool,
}

const SELF: &str = r"(?:my ?self|me ?self)";
const CLOSE: &str = r"(?:he|she|they|him|someone|somebody|a man|a guy|an adult|a grown ?up|daddy|mommy|papa|mama|stepdaddy|my (?:daddy|mommy|dad|father|mom|mum|mother|step ?dad|step ?father|step ?mom|step ?mother|uncle|aunt|brother|sister|cousin|grandpa|grandma|grandfather|grandmother|teacher|coach|babysitter|boyfriend|girlfriend|parents?|mom'?s boyfriend|moms boyfriend|neighbou?r|tutor|pastor|priest))";
/// School, news and fiction contexts that make a mention academic or third-person.
const ACADEMIC: &str = r"\b(?:learn(?:ed|ing|t)? about|in (?:health|science|history|english|psych\w*) class|health class|essay|report|project|presentation|assignment|(?:health|science|biology|psych\w*) (?:teacher|class|lesson)|assembly|teacher (?:talked|told us|taught us|explained)|research(?:ing)?|documentary|prevention|awareness|statistics|the news|news about|article|novel|book|movie|film|tv show|series|character|story|poem|song|lyrics|game|squad|dare program|drug safety|safety (?:week|class|talk|lesson)|dangers of|(?:\w+ )?dangers\b|effects of|video about|why (?:do )?people)\b";

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |id, category, pattern: &str, unless: Option<&str>, negatable| Rule {
            id,
            category,
            pattern: crate::safety::normalize::regex(&pattern.replace("{SELF}", SELF).replace("{CLOSE}", CLOSE)).unwrap_or_else(|e| panic!("rule {id}: {e}")),
            unless: unless.map(|u| crate::safety::normalize::regex(&u.replace("{ACADEMIC}", ACADEMIC).replace("{SELF}", SELF).replace("{CLOSE}", CLOSE)).unwrap_or_else(|e| panic!("rule {id} unless: {e}"))),
            negatable,
        };
        use Category::*;
        vec![
            // ---- suicide: ideation, intent, plan, method, preparation, farewell
            r("suicide.kill_self", Suicide, r"\b(?:kil+|kil+ing|kil+ed|end|ending|take|taking|off|offing) ?{SELF}\b", None, true),
            r("suicide.end_life", Suicide, r"\b(?:end|ending|take|taking|took) (?:my|my own) (?:own )?life\b|\b(?:end|ending) it all\b|\bwant (?:it all|everything|my life) to (?:end|be over|stop)\b", None, true),
            r("suicide.want_die", Suicide, r"\b(?:want|wanted|wanting|wish|wishing|going|plan|planning|ready|deserve|rather|just want|would like|need|have) (?:to )?(?:die|be dead|not exist|stop existing|not be alive|not be here anymore|disappear forever|sleep forever|never wake up)\b", Some(r"\b(?:die (?:of|from) (?:laughing|embarrassment|boredom|cringe)|dying to|die (?:my|your|her|his) hair|die (?:it|them) (?:pink|blue|red|green|purple|black|blonde))\b"), true),
            r("suicide.wish_dead", Suicide, r"\bwish (?:i|i would) (?:was|were|had|could) (?:be )?(?:dead|die|never been born|not born|not alive|disappear)", None, false),
            r("suicide.not_live", Suicide, r"\b(?:do not|does not|dont|no longer|not) (?:want|wish|feel like) (?:to )?(?:live|be alive|exist|be here anymore|be here any more|wake up|go on|keep going|keep living)\b|\b(?:hope|wish|pray) i (?:do not|never|would not|will not) wake up\b", Some(r"\bwake up (?:early|at \d|for (?:school|work|practice|church)|so early|in the morning for)"), false),
            r("suicide.no_reason", Suicide, r"\b(?:no|nothing|not any|no more) (?:reason|point|purpose) (?:to|in|of|for) (?:live|living|life|going on|being alive|being here|me being here|existing|trying anymore)\b", None, false),
            r("suicide.worth_living", Suicide, r"\blife (?:is|is not|isn't) (?:not )?worth (?:living|it)\b|\bnot worth living\b", Some(r"\bis worth living\b.*\b(?:because|when)\b"), false),
            r("suicide.better_off", Suicide, r"\b(?:better off (?:dead|without me|if i (?:was|were) gone|if i (?:died|was not here))|(?:everyone|they|people|the world) would be (?:happier|better|better off) (?:without me|if i (?:was|were) (?:gone|not around|not here|dead|never born)))", None, false),
            r("suicide.no_one_miss", Suicide, r"\b(?:no ?one|nobody) would (?:miss|care|notice) (?:me )?if i (?:died|was gone|were gone|disappeared|was dead|killed)", None, false),
            r("suicide.death_wish", Suicide, r"\b(?:tired|sick|exhausted|done) (?:of|with) (?:being alive|living|life|existing|being here|waking up)\b|\b(?:what is|whats|what's) the point (?:of|in) (?:living|life|being alive|going on|trying|anything|me)\b|\b(?:think|thinking|thought|dream|dreaming|fantasi[sz]e|fantasi[sz]ing) about (?:dying|death|being dead|my death|my funeral|not waking up|not being here|not existing)\b|\bstop existing\b|\b(?:want|wanna|going) to disappear\b.{0,30}\b(?:forever|never come back|for good|no one would|nobody would)|\bdie in my sleep\b", Some(r"{ACADEMIC}|\bthink about death (?:in|for) (?:philosophy|class)"), true),
            r("suicide.plan", Suicide, r"\b(?:planning|planned|plan|figured out|decided) (?:how|when|where) (?:to|i will|i am going to) (?:do it|end it|die|kil+ {SELF})\b|\b(?:have|made|got) a plan (?:to|for) (?:end|kil+|die|do it)|\bend it (?:tonight|today|now|soon|tomorrow|this week|for good)\b|\b(?:going|gonna|ready) to do it (?:tonight|today|now|soon)\b", Some(r"\b(?:homework|project|essay|party|trip|test|surprise)\b"), true),
            r("suicide.means", Suicide, r"\b(?:have|got|found|took|holding|bought|loaded) (?:my |a |the )?(?:dads |moms |parents |dad'?s |mom'?s |parents'? |brothers |uncles )?(?:gun|pistol|rifle|shotgun)\b.{0,50}\b(?:think|thinking|use it|end|myself|do it|ready)\b|\b(?:take|taking|took|swallow\w*) (?:every|all the|all of the|all my) (?:pills?|meds|medicine|tablets)\b", None, true),
            r("suicide.cues", Suicide, r"\b(?:ways|way|how) to (?:die|kil+ {SELF}|end (?:it|my life)|overdose|od|not wake up|disappear forever)\b|\bhow (?:many|much) (?:\w+ ){0,2}(?:would it take|does it take|to take|until|before) (?:\w+ ){0,3}(?:die|dead|overdose|not wake up|stop breathing)\b|\b(?:i am|i feel like|feel like|being) (?:such )?a burden\b|\bburden (?:to|on|for) (?:everyone|my family|my parents|people|my friends|everybody)\b|\b(?:ending|end) everything\b|\b(?:no|do not see a|cannot see a|there is no) future (?:for me|for myself|anymore)\b|\beverything (?:to )?go(?:es)? (?:dark|black) (?:forever)?\b|\b(?:until|till|til) (?:it|i) (?:bleeds?|bleed)\b|\bmake {SELF} bleed\b", Some(r"{ACADEMIC}|\bnosebleed|paper"), true),
            r("suicide.absence", Suicide, r"\b(?:not|never) (?:\w+ ){0,3}(?:be around|be here|be alive) (?:much longer|for long|anymore|any more|no more|tomorrow|next (?:week|year))\b|\bwhen i am (?:gone|dead|not here anymore)\b|\b(?:wish|hope|pray)\b.{0,20}\b(?:would|will|could|to) (?:hit|kil+|run over|shoot|crash into) me\b|\bnot come (?:up|back up)\b|\bbleed out\b|\bbe here no more\b|\b(?:died|dead|passed away|in heaven)\b.{0,40}\bwant to (?:be with|see|join) (?:her|him|them|my \w+)(?: (?:again|in heaven|up there))?", Some(r"{ACADEMIC}|\bdie(?:d)? (?:in|on) (?:the|my) (?:game|show)\b"), true),
            r("suicide.told_to", Suicide, r"\b(?:told|tell|tells|telling|said|says) me to (?:kil+ {SELF}|kil+ yourself|die|go die|end it)\b|\bkys\b", None, false),
            r("suicide.word", Suicide, r"\bsuicid(?:e|al|ality)\b|\bunaliv\w*|\bcommit (?:suicide|it)\b", Some(r"{ACADEMIC}|\bsuicide (?:squad|doors?|bomb\w*|run|mission|drills?|sprints?)\b"), true),
            r("suicide.method_overdose", Suicide, r"\b(?:took|take|taking|swallowed|swallow|going to take|overdos\w*) (?:a lot of |a bunch of |all (?:of )?(?:my |the |mom'?s |dad'?s |moms |dads )|too many |a whole (?:bottle|box|pack) of |the whole (?:bottle|box|pack) of |(?:like |about |around |maybe |over )?\d{2,} )(?:\w+ )?(?:pills|tablets|meds|medicine|medication|sleeping pills|painkillers|tylenol|advil)\b|\boverdos(?:e|ing|ed)\b|\bod (?:on|tonight)\b", Some(r"\b(?:accident\w*|by mistake|vitamins|candy|sugar|caffeine|coffee|the news|{ACADEMIC})"), false),
            r("suicide.method_hang", Suicide, r"\b(?:hang|hanging|hung) {SELF}|\bnoose\b|\b(?:have|got|bought|found|tied|tying|made) a rope\b|\b(?:rope|belt) (?:around|round) my neck", Some(r"{ACADEMIC}"), true),
            r("suicide.method_jump", Suicide, r"\b(?:(?:want|going|plan\w*|thinking about|think about|ready|gonna|about) to jump|(?:thinking|think|thought) about jumping) (?:off|from|in front of) (?:a|the|my)? ?(?:bridge|roof|building|cliff|balcony|window|train|car|tower|parking)", None, true),
            r("suicide.method_wrist", Suicide, r"\bslit(?:ting)? my (?:wrists?|throat)|\bcut (?:my )?wrists?\b|\bblade (?:to|on|against) my (?:wrist|throat|arm)", None, true),
            r("suicide.method_weapon", Suicide, r"\b(?:gun|pistol|knife|blade|razor) (?:to|against|on) my (?:head|chest|throat|neck|wrists?|arms?)|\bshoot {SELF}|\bstab {SELF}|\bdrown {SELF}|\bjump(?:ing)? in front of (?:a|the) (?:train|car|bus|truck)", None, true),
            r("suicide.farewell", Suicide, r"\b(?:goodbye|good ?bye|bye) (?:forever|everyone|world|cruel world)\b|\bthis is (?:my )?(?:last|final) (?:goodbye|message|night|day|post)\b|\bby the time (?:you|anyone) (?:read|reads|see|sees) this\b|\b(?:wrote|writing|written|left) (?:a |my )?(?:suicide |goodbye |last )?note (?:for|to) (?:my|everyone|you)|\b(?:suicide|goodbye) note\b|\bwill not be (?:here|around|alive) (?:tomorrow|much longer|anymore|for long|by)|\bgiving away (?:all )?my (?:stuff|things|belongings|pets)\b|\b(?:writing|wrote|write|written) (?:letters|a letter|notes|goodbye letters) (?:to say goodbye|for (?:when i am gone|after i am gone))|\bsay(?:ing)? (?:my )?goodbyes? to (?:my family|everyone|you all|my friends)\b.{0,40}\b(?:before|forever|last|gone)?", Some(r"\b(?:last day of (?:school|camp|summer)|vacation|trip|holiday|move|moving)\b"), false),
            r("suicide.cant_go_on", Suicide, r"\bcannot (?:go on|keep going|keep living|do this anymore|take (?:it|this) anymore|take it any more|live like this)\b|\bdone with (?:life|living|being alive|everything and everyone)\b|\bgive up on (?:life|living)\b|\bgo to sleep and (?:never|not) wake up\b|\bi (?:hate|hate my) (?:life|being alive) (?:so much )?(?:and |so )?(?:i )?want (?:it|this|everything) (?:to )?(?:end|be over|stop)", Some(r"\b(?:homework|math|test|exam|class|teacher|game|level|song|show|this weather|traffic|drama)\b"), false),
            r("suicide.others_at_risk", Suicide, r"\b(?:my|a) (?:friend|best friend|bff|sister|brother|mom|mum|dad|cousin|boyfriend|girlfriend|classmate)\w* (?:said|says|told me|keeps saying|texted|is|wants|is going|is planning|plans|tried|threatened)\b.{0,30}\b(?:kil+ (?:herself|himself|themselves|themself)|suicid\w*|end (?:her|his|their) life|(?:cut|cutting|hurt|hurting) (?:herself|himself|themselves))", None, false),
            // ---- self-harm
            r("self_harm.verb_self", SelfHarm, r"\b(?:cut|cuts|cutting|burn|burns|burning|burned|burnt|scratch|scratching|scratched|hurt|hurts|hurting|harm|harms|harming|hit|hitting|punch|punching|punish|punishing|starve|starving|starved|bruise|bruising|carve|carving|bite|biting) {SELF}\b", Some(r"\b(?:accident\w*|by mistake|on (?:the|a) (?:stove|oven|pan|iron|grill|fire|fence|nail)|cooking|baking|shaving|paper ?cut|while (?:cooking|cutting|making|playing|running|skating|climbing)|fell|tripped|ran into|sports?|soccer|football|practice|curling iron|hot glue|slipped)\b|\bhurt {SELF} (?:playing|at (?:practice|the|soccer|school|gym|recess)|during|in (?:the|a|gym|pe)|on the (?:field|ice|court|playground|trampoline))"), true),
            r("self_harm.cutting", SelfHarm, r"\b(?:been|started|start|keep|kept|stop|stopped|quit|relapsed? (?:on|into)?|urge to|urges to|want to|need to|thinking about|going back to|clean from) (?:self ?harm\w*|cutting|cut again|hurting myself)\b", Some(r"\bcutting (?:class|school|hair|paper|carbs|corners|back|down|out|in|the|it|my hair|a|some|bread|cake|wood|grass|ties)\b"), true),
            r("self_harm.recent", SelfHarm, r"\b(?:i|i have|i just|just) (?:cut|burned|burnt|carved|scratched|hit) (?:again|deeper|last night|today|yesterday|this morning)\b|\b(?:carved|carving|carve) (?:\w+ ){0,3}(?:into|in|on) my (?:skin|arms?|legs?|wrists?|thighs?|stomach|hand)\b", Some(r"\b(?:pumpkin|wood|soap|turkey|my name (?:into|in|on) (?:the|a) (?:desk|tree|table))\b"), false),
            r("self_harm.tools", SelfHarm, r"\b(?:cut|cutting|slice|sliced|scratched) (?:my |into my )?(?:arms?|wrists?|legs?|thighs?|skin|stomach) (?:with|using|open)\b|\b(?:razor|blade|blades|scissors|compass|sharpener|lighter) (?:to|on|into|across) my (?:skin|arms?|wrists?|legs?|thighs?|stomach)\b|\bbang(?:ing)? my head (?:against|on|into) (?:the )?(?:wall|floor|desk)\b.{0,30}\b(?:until|till|bleed|bruise|hurts|on purpose)", Some(r"\b(?:paper|cooking|shaving|accident\w*|homework|math)\b"), false),
            r("self_harm.word", SelfHarm, r"\bself[ -]?(?:harm\w*|injur\w*|mutilat\w*)\b", Some(r"{ACADEMIC}"), true),
            r("self_harm.marks", SelfHarm, r"\b(?:cuts|scars|marks|burns|wounds|scratches) on my (?:arms?|wrists?|legs?|thighs?|stomach|hips?)\b.{0,40}\b(?:hide|hiding|cover|covering|did|made|from|myself|again|sleeves)\b|\bhide (?:my|the) (?:cuts|scars|marks)\b|\b(?:razor|blade|blades|sharpener) (?:to|on) my (?:skin|arm|leg|wrist|thigh)", None, false),
            r("self_harm.purging", SelfHarm, r"\bmake {SELF} (?:throw up|puke|vomit|sick)\b|\bstop eating (?:so|to|until|because)\b|\bnot (?:eaten|eating) (?:in|for) (?:days|a week|\d+ days)\b", Some(r"\b(?:stomach bug|flu|sick with|fasting|ramadan)\b"), true),
            // ---- abuse and danger from others
            r("abuse.hurt_by", Abuse, r"\b{CLOSE} (?:always |keeps |sometimes |still |just |really |again )?(?:hits|hit|hitting|beats|beat|beating|punch|punches|punched|kick|kicks|kicked|choke|chokes|choked|choking|slap|slaps|slapped|hurts|hurt|hurting|burn|burns|burned|burnt|whip|whips|whipped|strangle|strangles|strangled|throws things at|threw things at|lock|locks|locked|starve|starves|starved|rapes|raped|molests|molested|abuses|abused) me\b", Some(r"\b(?:pillow|by accident|accidentally|playing|in the game|tag|snowball|water balloon|dodge ?ball|tickle|my feelings|feelings)\b|\bbeat (?:me|us) (?:at|in) (?:\w+ )?(?:game|games|chess|checkers|cards|fortnite|minecraft|roblox|mario|kart|soccer|basketball|race|racing|math|tennis|ping pong|uno|monopoly|video games|everything|a race|smash)\b"), false),
            r("abuse.touched", Abuse, r"\b(?:touch|touches|touched|touching|rubs|rubbed|feels|felt) (?:me|my) (?:down there|there|private\w*|in my private\w*|under my (?:clothes|shirt|skirt|pants)|between my legs|where (?:he|she|they) should not|in a bad way|in a weird way|inappropriately)|\b{CLOSE} (?:touches|touched|touch|keeps touching|tried to touch) me\b|\bmade me (?:touch|take off|undress|get undressed|get naked|watch (?:porn|videos))|\b(?:said|says|told me) (?:it is|it'?s|its) (?:our|a) (?:little |special )?secret\b|\bsecret (?:game|touching)\b|\b(?:sends|sent|showed|shows|showing) me (?:pictures|pics|photos|videos) of (?:his|her|their) (?:body|private\w*|naked|parts)|\bbad touch\b|\btouch(?:es|ed|ing)? me\b|\bmade me do (?:things|stuff|something|sexual things) (?:i|that i) (?:did not|do not|didnt) want\b", Some(r"\b(?:touch(?:ed|es)? my (?:heart|soul)|touched me (?:deeply|so much)|moving|keep in touch|(?:story|song|words|video|kindness|speech|letter|movie|poem) (?:really )?touche[sd]? me|touche[sd]? me on the (?:shoulder|arm|hand|back)|tag)\b"), false),
            r("abuse.being_abused", Abuse, r"\b(?:i am|i was|i got|i have been|been|being|getting|get) (?:sexually )?(?:abused|molested|raped|assaulted|beaten|beat up|groomed|trafficked)\b|\b(?:abuse|abuses|abusing|abusive) (?:me|at home)\b|\bmy (?:dad|father|mom|mum|mother|step ?dad|step ?mom|parents?|boyfriend|girlfriend) (?:is|are) abusive\b", Some(r"{ACADEMIC}|\bbeat (?:me )?(?:at|in) (?:chess|the game|a game|fortnite|minecraft|cards|mario|racing)\b|\bgot beat (?:at|in)\b"), false),
            r("abuse.grooming", Abuse, r"\b(?:asked|asks|asking|wants|wanted|told|made|make|pressur\w+) me (?:to )?(?:send|sending) (?:him |her |them )?(?:pics|pictures|photos|nudes|videos) of (?:me|my ?self|my body)|\b(?:asked|asks|wants|wanted) (?:me )?(?:for |to send )?(?:nudes|naked pictures|naked photos)\b|\b(?:an adult|a grown ?up|a man|a guy|a stranger|he|she|someone)\b.{0,40}\b(?:told|asked|wants|wanted|tells|asks) me (?:to |not to )?(?:keep (?:it|this|us) (?:a )?secret|tell (?:my )?(?:parents|mom|dad|anyone)|meet (?:him|her|them|up) (?:alone|in person|somewhere|irl))", None, false),
            r("danger.threat", Danger, r"\b{CLOSE} (?:said|says|told me|threatened|threatens|is going to|will|wants to|tried to|is trying to)(?: (?:that )?(?:he|she|they) (?:would|will|is going to|was going to|is gonna))? (?:to )?(?:kil+|hurt|beat|stab|shoot|choke) (?:me|us|my (?:mom|mum|dad|brother|sister|family))\b|\b(?:hurt|kil+) (?:me|us|my \w+) if i (?:tell|told|say anything)|\bif i (?:tell|told) (?:anyone|anybody|someone|my \w+)\b.{0,30}\b(?:kil+|hurt|beat|hit) (?:me|us)\b", Some(r"\b(?:if i (?:lose|lost|beat|win) (?:at|the|this|in)|in the game|joking|lol|haha|my (?:homework|room|chores)|if i do not (?:clean|finish))\b|\bkil+ me (?:if|when) (?:i am late|i get home late|i come home late|i lose|i fail|i forget|i do not|i break|i miss|i get (?:a|bad)|(?:she|he|they) (?:see|sees|find|finds) )"), false),
            r("danger.spiked_drink", Danger, r"\b(?:something|drugs?|pills?|powder) in (?:my|the|her|his) drink\b|\b(?:gave|handed|bought) me a drink and (?:i )?(?:think|feel|felt|now)\b.{0,40}\b(?:something in it|drugged|dizzy|weird|cannot move|can't move)", None, false),
            r("danger.scared_home", Danger, r"\b(?:scared|afraid|terrified|too scared) (?:to go|of going) home\b|\b(?:scared|afraid|terrified) of my (?:dad|father|mom|mum|mother|step ?dad|step ?mom|uncle|parents?|boyfriend|girlfriend)\b(?:.{0,30}\b(?:hurt|hit|hits|yell|drunk|angry|does|will do))?|\bnot safe (?:at home|here|in my house|with (?:him|her|them|my))|\b(?:do not|never|dont) feel safe (?:at home|here|in my house|with (?:him|her|them|my))", None, false),
            r("danger.immediate", Danger, r"\b(?:someone|a man|a guy|a stranger|he|she|they|somebody) (?:is |are |keeps |was |kept )?(?:following|chasing|stalking|watching) (?:me|us)\b(?: home)?|\b(?:someone|a man|a guy|a stranger|somebody) (?:is |are )?(?:trying to get in|breaking in|in my (?:house|room|home)|outside my (?:door|window|house|room))|\b(?:he|she|they|someone|my \w+) (?:has|have|got|is holding|pulled) a (?:gun|knife|weapon)\b|\bi am (?:locked|trapped) in\b|\bcall (?:the )?(?:police|911) (?:please|now|for me)|\bhelp me (?:please )?(?:he|she|they) (?:is|are|will)\b", Some(r"\b(?:in the (?:game|movie|show|book|story)|fortnite|minecraft|roblox|zombie|dream|nightmare|tag|hide and seek|playing|played|game)\b"), false),
            // ---- substances (tier 2), by the user or around them
            r("substances.alcohol", Substances, r"\b(?:drunk|wasted|hammered|tipsy|buzzed|drinks? (?:till|until) (?:he|she|they|i) (?:pass|passes|passed) out|hungover|hangover|blackout drunk|booze|liquor|alcohol\w*|(?:drink|drinks|drinking|drank|had|having|chug\w*|tried|try|tasted?|sip\w*|steal\w*|stole|shots of)\b(?: \w+){0,3} (?:vodka|whiske?y|tequila|rum|beers?|wine|white claws?|hard seltzers?|gin|champagne)|(?:vodka|whiske?y|tequila|rum|beers?|wine|gin) (?:every|at night|alone|before school|in my room)|shots of|(?:got|get|getting) drunk|drinking (?:again|a lot|every|at|with|before)|(?:been|was|were|started|keep|kept|stop) drinking|(?:drink|drinks|drinking|drank)(?: alcohol)? (?:too much|every (?:day|night|weekend)|alone|before school|at school|in my room|to forget|to cope|to feel better|with my friends)|(?:took|had|did|take|taking|doing|drank) (?:a few |some |two |three |\d+ )?shots\b|pressur\w* me to (?:drink|smoke|vape|get high|try (?:it|weed|drugs|alcohol))|drinks (?:a lot|every|too much))\b", Some(r"{ACADEMIC}|\b(?:root beer|ginger beer|butter ?beer|drunk (?:on|with) (?:power|love|happiness)|non[- ]?alcoholic|flu shots?|shots? (?:at the doctor|on goal)|basketball|vaccine|booster|wine (?:gums|red|colou?r)|rubbing alcohol|alcohol (?:wipes?|swabs?|free|ink))\b|\b(?:hand sanitizer)\b"), false),
            r("substances.drugs_named", Substances, r"\b(?:weed|marijuana|cannabis|edibles|(?:an|ate|took|had) edible|thc|cbd pens?|dabs|dabbing|cocaine|meth|crystal meth|heroin|fentanyl|fent|mdma|ecstasy|xanax|xans|xannies|percs|percocets?|oxy|oxys|oxycontin|oxycodone|lsd|ketamine|ket|shrooms|magic mushrooms|adderall|vyvanse|codeine|promethazine|nitrous|whippets|poppers|drugs|narcotics|opioids?|stoned|blazed|high af|tripping on|robotrip\w*|dxm)\b", Some(r"{ACADEMIC}|\b(?:drug ?store|drugstore|(?:is|was|am|are|been|i am|get|got) prescribed|as prescribed|my (?:doctor|prescription)|for my adhd|take my adderall (?:as|like) prescribed|drugs? (?:test|dog)|say no to drugs|war on drugs)\b"), false),
            r("substances.drugs_context", Substances, r"\b(?:smoke|smoking|smoked|hit|hits|rip|rips|took|take|taking|pop|popping|popped|snort|snorting|snorted|sniff|sniffing|huff|huffing|tried|try|trying|doing|did|sell|selling|sold|buy|buying|bought) (?:some |a |the |my |his |her )?(?:pot|coke|crack|molly|acid|mushrooms|lean|pills|tabs|bars|blunts?|joints?|bong|pen|dope|glue|paint|gas|markers)\b|\b(?:get|got|getting|was|am|feel|feeling|are) (?:so |really |super |hella |very |too )?(?:high|stoned|baked|blazed|faded|cross ?faded|zooted)\b|\bsnort(?:ed|ing)? (?:something|a line|lines|it|some\w*)\b|\b(?:high|stoned) (?:on|off) \w+", Some(r"{ACADEMIC}|\b(?:high (?:school|score|five|fives|up|tide|jump)|baked (?:cookies|a cake|bread|goods)|(?:got|get|am|was) (?:high|higher) (?:score|grade|marks|up)|crack (?:a joke|the code|an egg|open)|smoke (?:alarm|detector|bomb|signal)|feel(?:ing)? high(?:-| )?spirited)\b"), false),
            r("substances.nicotine", Substances, r"\b(?:vape|vapes|vaping|vaped|vaper|juul|juuls|juuling|nicotine|nic|zyns?|cigarettes?|cigs?|ciggies|cigars?|tobacco|dip|chew|snus|puff ?bars?|elf ?bars?|geek ?bars?|smoking|smoke|smoked|smokes) ?\b", Some(r"{ACADEMIC}|\b(?:smoke (?:alarm|detector|bomb|signal|machine|from|coming|everywhere|in the)|smoked (?:salmon|meat|brisket|ham|cheese|turkey)|(?:fire|campfire|wildfire|bbq|grill|chimney)\b|smoking (?:hot|gun|fast)|holy smokes|smokes? (?:me|us) (?:at|in)|dip (?:my|the|into|in|chips|sauce)|chew (?:gum|my|on|food|toy)|nic(?:e|k|ole|holas?)\b)\b"), false),
            r("substances.misuse", Substances, r"\b(?:took|take|taking|steal|stole|stealing|pop|popping|swallowed) (?:some of )?(?:my |a )?(?:mom'?s|moms|dad'?s|dads|sister'?s|sisters|brother'?s|brothers|friend'?s|friends|grandma'?s|parents'?|someone'?s) (?:pills|meds|medicine|medication|prescription|adderall|xanax|painkillers|sleeping pills)\b|\b(?:cough syrup|benadryl|nyquil) to (?:get|feel) (?:high|messed up|something)|\b(?:is|are|always|been|keeps being|moms|dads|mom|dad|parents) (?:always )?on (?:pills|drugs|meth|coke|heroin|something)\b", Some(r"{ACADEMIC}|\bto (?:my|the) (?:mom|dad|grandma|sister|brother)\b|\bon (?:pills|meds|medication) for (?:her|his|my|their) (?:heart|blood|pressure|diabetes|cancer|pain|arthritis|allergies|adhd|epilepsy|seizures)\b"), false),
        ]
    })
}

/// Sentence-level cues: a risk is named by a combination of words wherever they stand,
/// which catches phrasings no single pattern lists ("the only way out is to die").
struct Cue {
    id: &'static str,
    category: Category,
    /// Every one of these must match the same sentence.
    all: Vec<Regex>,
    unless: Regex,
}

fn cues() -> &'static [Cue] {
    static CUES: OnceLock<Vec<Cue>> = OnceLock::new();
    CUES.get_or_init(|| {
        let re = |s: &str| crate::safety::normalize::regex(&s.replace("{ACADEMIC}", ACADEMIC)).unwrap_or_else(|e| panic!("{s}: {e}"));
        let figures = r"\b(?:dying (?:to|laughing|of laughter)|die (?:of|from) (?:laughing|cringe|embarrassment|boredom)|dead (?:tired|serious)|(?:phone|battery|laptop|computer|plant|fish|goldfish|hamster|car|game|character|level|boss|zombie)s? (?:is |was |has |just )?(?:died|dead|dies)|died in the game|killing it|kil+ed it|kil+ (?:for|it)\b|could die|bored to death|scared to death|to death of)";
        vec![
            Cue {
                id: "suicide.cue_combo",
                category: Category::Suicide,
                all: vec![
                    re(r"\b(?:i|me|my|myself)\b"),
                    re(r"\b(?:want|wanted|wanna|wish|wishing|hope|going to|plan|planning|ready|deserve|rather|only way|no way out|way out|better off|need to|thinking (?:about|of)|think about|feel like|tempted|considering|just want)\b"),
                    re(r"\b(?:die|dying|dead|death|suicid\w*|kil+ myself|end (?:it|myself|my life|everything)|(?:go|be) (?:to|in) heaven|gone forever|not wake up|never wake up|not be here|not exist|stop breathing|stop living|be with (?:grandma|grandpa|my \w+) in heaven)\b"),
                ],
                unless: re(&format!(r"{figures}|{{ACADEMIC}}|\b(?:do not|never|would never|will never|not going to) (?:want|wish|plan)\b|\b(?:afraid|scared) (?:of|to) (?:die|dying|death)\b|\b(?:hair|dye)\b")),
            },
            Cue {
                id: "self_harm.cue_combo",
                category: Category::SelfHarm,
                all: vec![
                    re(r"\b(?:my|myself)\b"),
                    re(r"\b(?:cut|cuts|cutting|scratch\w*|burn\w*|bled|bleed\w*|blade|blades|razor|bruise\w*|carv\w*)\b"),
                    re(r"\b(?:arms?|wrists?|legs?|thighs?|skin|stomach|body|hips?|till|until|on purpose|when (?:it gets|i feel|i am) (?:bad|sad|angry|upset)|for when)\b"),
                ],
                unless: re(r"\b(?:fell|fall|scrap\w*|trip\w*|cooking|baking|shaving|paper|accident\w*|practice|game|bike|skateboard|soccer|football|sunburn\w*|burn(?:ed|t)? (?:my )?(?:tongue|finger|hand) on|stove|oven|pan|iron|hair|nosebleed|doctor|surgery|shot|vaccine|mosquito|bug bites?|itchy|rash|cat|dog|kitten|puppy)\b"),
            },
            Cue {
                id: "self_harm.means",
                category: Category::SelfHarm,
                all: vec![re(r"\b(?:saving (?:up )?(?:my |all my |the )?(?:pills|meds|medicine|tablets)|stockpil\w*|(?:keep|kept|hide|hiding|hid|carry|carrying|have) (?:a |my |the )?(?:blade|blades|razor|razors)\b)")],
                unless: re(r"\b(?:shaving|shave|art class|craft)\b"),
            },
            Cue {
                id: "abuse.cue_combo",
                category: Category::Abuse,
                all: vec![re(r"\b(?:private parts?|privates|(?:does|do|did|doing) (?:stuff|things|bad things) to me|(?:throws|threw|pushes|pushed|shoves|shoved|drags|dragged|slams|slammed) me (?:against|into|down|on|to)|pulls my hair|asked me to (?:come|get) (?:in|into|to) (?:his|her|their|a) (?:car|van|truck|house|room))\b")],
                unless: re(r"\b(?:doctor|nurse|in the game|playing|wrestl\w*|pillow)\b"),
            },
            Cue {
                id: "self_harm.on_purpose",
                category: Category::SelfHarm,
                all: vec![
                    re(r"\b(?:on purpose|to feel something|to feel (?:pain|anything|better)|to punish myself)\b"),
                    re(r"\b(?:hurt|burn\w*|cut\w*|hit\w*|scratch\w*|bleed\w*|stove|lighter|knife|blade|razor|hot|pinch\w*|bang\w*|punch\w*)\b"),
                    re(r"\b(?:i|my|myself)\b"),
                ],
                unless: re(r"\b(?:game|joke|prank|my (?:brother|sister|friend) (?:hit|hurt))\b"),
            },
            Cue {
                id: "self_harm.deserve",
                category: Category::SelfHarm,
                all: vec![re(r"\bi deserve (?:to )?(?:suffer|hurt|be hurt|pain|be punished|to be punished|feel pain|bad things)\b")],
                unless: re(r"\b(?:game|character)\b"),
            },
        ]
    })
}

fn negation() -> &'static Regex {
    static NEG: OnceLock<Regex> = OnceLock::new();
    NEG.get_or_init(|| {
        crate::safety::normalize::regex(r"\b(?:never|not|no way i would|would not|will not|never going to|not going to|no intention (?:of|to)|would never|will never)(?: ever| really| actually| even)?(?: going to| try to| want to)?(?: be)? ?$").unwrap()
    })
}

fn has_substance_use_marker() -> &'static Regex {
    static USE: OnceLock<Regex> = OnceLock::new();
    USE.get_or_init(|| {
        crate::safety::normalize::regex(
            r"\bi (?:vape|smoke|drink alcohol|am addicted|have been (?:vaping|smoking|drinking)|do drugs|get high|got high|got drunk)\b",
        )
        .unwrap()
    })
}

/// Compiles every rule now rather than on the first message.
pub fn prepare() {
    rules();
    cues();
    negation();
    has_substance_use_marker();
    academic_only("");
}

/// Every rule and cue id.
pub fn ids() -> Vec<&'static str> {
    rules().iter().map(|r| r.id).chain(cues().iter().map(|c| c.id)).collect()
}

/// The rules and cues that match a normalised message, as `(category, rule id)` pairs.
pub fn matches(norm: &str) -> Vec<(Category, &'static str)> {
    let mut found = Vec::new();
    for rule in rules() {
        let matched = rule
            .pattern
            .find_iter(norm)
            .any(|m| !(rule.negatable && negated(&norm[..m.start()])));
        // An academic or harmless context excuses a mention, but not first-person use of a substance.
        let excused = rule.unless.as_ref().is_some_and(|u| u.is_match(norm)) && !first_person_use(rule.category, norm);
        if matched && !excused {
            found.push((rule.category, rule.id));
        }
    }
    for sentence in norm.split(['.', '!', '?', ';', '\n']) {
        for cue in cues() {
            if cue.all.iter().all(|r| r.is_match(sentence)) && !cue.unless.is_match(sentence) {
                found.push((cue.category, cue.id));
            }
        }
    }
    found
}

fn negated(before: &str) -> bool {
    let tail_start = before.char_indices().rev().nth(40).map(|(i, _)| i).unwrap_or(0);
    negation().is_match(&before[tail_start..])
}

/// "I vape every day" stays tier 2 even in a message that also mentions a school topic.
fn first_person_use(category: Category, norm: &str) -> bool {
    category == Category::Substances && has_substance_use_marker().is_match(norm) && !academic_only(norm)
}

fn academic_only(norm: &str) -> bool {
    static SCHOOL: OnceLock<Regex> = OnceLock::new();
    SCHOOL
        .get_or_init(|| crate::safety::normalize::regex(r"\b(?:learn(?:ed|ing|t)? about|health class|essay|report|project|presentation|dare program|drug safety|dangers of|effects of)\b").unwrap())
        .is_match(norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tier the rules alone give.
    fn tier(t: &str) -> u8 {
        matches(&crate::safety::normalize::for_safety(t))
            .iter()
            .map(|(c, _)| u8::from(c.tier()))
            .max()
            .unwrap_or(1)
    }

    #[test]
    fn contract_examples() {
        for t in [
            "this homework is killing me",
            "I died laughing",
            "my phone died",
            "I'm dying to see it",
            "we learned about drug safety",
            "my grandpa died last year and I miss him",
        ] {
            assert_eq!(tier(t), 1, "{t}");
        }
        for t in [
            "kms",
            "I want to unalive myself",
            "I don't want to wake up tomorrow",
            "I've been cutting again",
            "I want to die",
            "my uncle touches me down there",
        ] {
            assert_eq!(tier(t), 3, "{t}");
        }
        for t in ["spills everywhere lol", "I love haircutting videos"] {
            assert_eq!(tier(t), 1, "{t}");
        }
        assert_eq!(tier("I smoked weed with my cousin"), 2);
        assert_eq!(tier("I would never hurt myself"), 1);
    }
}
