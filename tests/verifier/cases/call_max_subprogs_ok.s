# description: 256 subprograms, the most the kernel allows
# intent: accept
call f0
call f1
call f2
call f3
call f4
call f5
call f6
call f7
call f8
call f9
call f10
call f11
call f12
call f13
call f14
call f15
call f16
call f17
call f18
call f19
call f20
call f21
call f22
call f23
call f24
call f25
call f26
call f27
call f28
call f29
call f30
call f31
call f32
call f33
call f34
call f35
call f36
call f37
call f38
call f39
call f40
call f41
call f42
call f43
call f44
call f45
call f46
call f47
call f48
call f49
call f50
call f51
call f52
call f53
call f54
call f55
call f56
call f57
call f58
call f59
call f60
call f61
call f62
call f63
call f64
call f65
call f66
call f67
call f68
call f69
call f70
call f71
call f72
call f73
call f74
call f75
call f76
call f77
call f78
call f79
call f80
call f81
call f82
call f83
call f84
call f85
call f86
call f87
call f88
call f89
call f90
call f91
call f92
call f93
call f94
call f95
call f96
call f97
call f98
call f99
call f100
call f101
call f102
call f103
call f104
call f105
call f106
call f107
call f108
call f109
call f110
call f111
call f112
call f113
call f114
call f115
call f116
call f117
call f118
call f119
call f120
call f121
call f122
call f123
call f124
call f125
call f126
call f127
call f128
call f129
call f130
call f131
call f132
call f133
call f134
call f135
call f136
call f137
call f138
call f139
call f140
call f141
call f142
call f143
call f144
call f145
call f146
call f147
call f148
call f149
call f150
call f151
call f152
call f153
call f154
call f155
call f156
call f157
call f158
call f159
call f160
call f161
call f162
call f163
call f164
call f165
call f166
call f167
call f168
call f169
call f170
call f171
call f172
call f173
call f174
call f175
call f176
call f177
call f178
call f179
call f180
call f181
call f182
call f183
call f184
call f185
call f186
call f187
call f188
call f189
call f190
call f191
call f192
call f193
call f194
call f195
call f196
call f197
call f198
call f199
call f200
call f201
call f202
call f203
call f204
call f205
call f206
call f207
call f208
call f209
call f210
call f211
call f212
call f213
call f214
call f215
call f216
call f217
call f218
call f219
call f220
call f221
call f222
call f223
call f224
call f225
call f226
call f227
call f228
call f229
call f230
call f231
call f232
call f233
call f234
call f235
call f236
call f237
call f238
call f239
call f240
call f241
call f242
call f243
call f244
call f245
call f246
call f247
call f248
call f249
call f250
call f251
call f252
call f253
call f254
r0 = 0
exit
f0:
r0 = 0
exit
f1:
r0 = 0
exit
f2:
r0 = 0
exit
f3:
r0 = 0
exit
f4:
r0 = 0
exit
f5:
r0 = 0
exit
f6:
r0 = 0
exit
f7:
r0 = 0
exit
f8:
r0 = 0
exit
f9:
r0 = 0
exit
f10:
r0 = 0
exit
f11:
r0 = 0
exit
f12:
r0 = 0
exit
f13:
r0 = 0
exit
f14:
r0 = 0
exit
f15:
r0 = 0
exit
f16:
r0 = 0
exit
f17:
r0 = 0
exit
f18:
r0 = 0
exit
f19:
r0 = 0
exit
f20:
r0 = 0
exit
f21:
r0 = 0
exit
f22:
r0 = 0
exit
f23:
r0 = 0
exit
f24:
r0 = 0
exit
f25:
r0 = 0
exit
f26:
r0 = 0
exit
f27:
r0 = 0
exit
f28:
r0 = 0
exit
f29:
r0 = 0
exit
f30:
r0 = 0
exit
f31:
r0 = 0
exit
f32:
r0 = 0
exit
f33:
r0 = 0
exit
f34:
r0 = 0
exit
f35:
r0 = 0
exit
f36:
r0 = 0
exit
f37:
r0 = 0
exit
f38:
r0 = 0
exit
f39:
r0 = 0
exit
f40:
r0 = 0
exit
f41:
r0 = 0
exit
f42:
r0 = 0
exit
f43:
r0 = 0
exit
f44:
r0 = 0
exit
f45:
r0 = 0
exit
f46:
r0 = 0
exit
f47:
r0 = 0
exit
f48:
r0 = 0
exit
f49:
r0 = 0
exit
f50:
r0 = 0
exit
f51:
r0 = 0
exit
f52:
r0 = 0
exit
f53:
r0 = 0
exit
f54:
r0 = 0
exit
f55:
r0 = 0
exit
f56:
r0 = 0
exit
f57:
r0 = 0
exit
f58:
r0 = 0
exit
f59:
r0 = 0
exit
f60:
r0 = 0
exit
f61:
r0 = 0
exit
f62:
r0 = 0
exit
f63:
r0 = 0
exit
f64:
r0 = 0
exit
f65:
r0 = 0
exit
f66:
r0 = 0
exit
f67:
r0 = 0
exit
f68:
r0 = 0
exit
f69:
r0 = 0
exit
f70:
r0 = 0
exit
f71:
r0 = 0
exit
f72:
r0 = 0
exit
f73:
r0 = 0
exit
f74:
r0 = 0
exit
f75:
r0 = 0
exit
f76:
r0 = 0
exit
f77:
r0 = 0
exit
f78:
r0 = 0
exit
f79:
r0 = 0
exit
f80:
r0 = 0
exit
f81:
r0 = 0
exit
f82:
r0 = 0
exit
f83:
r0 = 0
exit
f84:
r0 = 0
exit
f85:
r0 = 0
exit
f86:
r0 = 0
exit
f87:
r0 = 0
exit
f88:
r0 = 0
exit
f89:
r0 = 0
exit
f90:
r0 = 0
exit
f91:
r0 = 0
exit
f92:
r0 = 0
exit
f93:
r0 = 0
exit
f94:
r0 = 0
exit
f95:
r0 = 0
exit
f96:
r0 = 0
exit
f97:
r0 = 0
exit
f98:
r0 = 0
exit
f99:
r0 = 0
exit
f100:
r0 = 0
exit
f101:
r0 = 0
exit
f102:
r0 = 0
exit
f103:
r0 = 0
exit
f104:
r0 = 0
exit
f105:
r0 = 0
exit
f106:
r0 = 0
exit
f107:
r0 = 0
exit
f108:
r0 = 0
exit
f109:
r0 = 0
exit
f110:
r0 = 0
exit
f111:
r0 = 0
exit
f112:
r0 = 0
exit
f113:
r0 = 0
exit
f114:
r0 = 0
exit
f115:
r0 = 0
exit
f116:
r0 = 0
exit
f117:
r0 = 0
exit
f118:
r0 = 0
exit
f119:
r0 = 0
exit
f120:
r0 = 0
exit
f121:
r0 = 0
exit
f122:
r0 = 0
exit
f123:
r0 = 0
exit
f124:
r0 = 0
exit
f125:
r0 = 0
exit
f126:
r0 = 0
exit
f127:
r0 = 0
exit
f128:
r0 = 0
exit
f129:
r0 = 0
exit
f130:
r0 = 0
exit
f131:
r0 = 0
exit
f132:
r0 = 0
exit
f133:
r0 = 0
exit
f134:
r0 = 0
exit
f135:
r0 = 0
exit
f136:
r0 = 0
exit
f137:
r0 = 0
exit
f138:
r0 = 0
exit
f139:
r0 = 0
exit
f140:
r0 = 0
exit
f141:
r0 = 0
exit
f142:
r0 = 0
exit
f143:
r0 = 0
exit
f144:
r0 = 0
exit
f145:
r0 = 0
exit
f146:
r0 = 0
exit
f147:
r0 = 0
exit
f148:
r0 = 0
exit
f149:
r0 = 0
exit
f150:
r0 = 0
exit
f151:
r0 = 0
exit
f152:
r0 = 0
exit
f153:
r0 = 0
exit
f154:
r0 = 0
exit
f155:
r0 = 0
exit
f156:
r0 = 0
exit
f157:
r0 = 0
exit
f158:
r0 = 0
exit
f159:
r0 = 0
exit
f160:
r0 = 0
exit
f161:
r0 = 0
exit
f162:
r0 = 0
exit
f163:
r0 = 0
exit
f164:
r0 = 0
exit
f165:
r0 = 0
exit
f166:
r0 = 0
exit
f167:
r0 = 0
exit
f168:
r0 = 0
exit
f169:
r0 = 0
exit
f170:
r0 = 0
exit
f171:
r0 = 0
exit
f172:
r0 = 0
exit
f173:
r0 = 0
exit
f174:
r0 = 0
exit
f175:
r0 = 0
exit
f176:
r0 = 0
exit
f177:
r0 = 0
exit
f178:
r0 = 0
exit
f179:
r0 = 0
exit
f180:
r0 = 0
exit
f181:
r0 = 0
exit
f182:
r0 = 0
exit
f183:
r0 = 0
exit
f184:
r0 = 0
exit
f185:
r0 = 0
exit
f186:
r0 = 0
exit
f187:
r0 = 0
exit
f188:
r0 = 0
exit
f189:
r0 = 0
exit
f190:
r0 = 0
exit
f191:
r0 = 0
exit
f192:
r0 = 0
exit
f193:
r0 = 0
exit
f194:
r0 = 0
exit
f195:
r0 = 0
exit
f196:
r0 = 0
exit
f197:
r0 = 0
exit
f198:
r0 = 0
exit
f199:
r0 = 0
exit
f200:
r0 = 0
exit
f201:
r0 = 0
exit
f202:
r0 = 0
exit
f203:
r0 = 0
exit
f204:
r0 = 0
exit
f205:
r0 = 0
exit
f206:
r0 = 0
exit
f207:
r0 = 0
exit
f208:
r0 = 0
exit
f209:
r0 = 0
exit
f210:
r0 = 0
exit
f211:
r0 = 0
exit
f212:
r0 = 0
exit
f213:
r0 = 0
exit
f214:
r0 = 0
exit
f215:
r0 = 0
exit
f216:
r0 = 0
exit
f217:
r0 = 0
exit
f218:
r0 = 0
exit
f219:
r0 = 0
exit
f220:
r0 = 0
exit
f221:
r0 = 0
exit
f222:
r0 = 0
exit
f223:
r0 = 0
exit
f224:
r0 = 0
exit
f225:
r0 = 0
exit
f226:
r0 = 0
exit
f227:
r0 = 0
exit
f228:
r0 = 0
exit
f229:
r0 = 0
exit
f230:
r0 = 0
exit
f231:
r0 = 0
exit
f232:
r0 = 0
exit
f233:
r0 = 0
exit
f234:
r0 = 0
exit
f235:
r0 = 0
exit
f236:
r0 = 0
exit
f237:
r0 = 0
exit
f238:
r0 = 0
exit
f239:
r0 = 0
exit
f240:
r0 = 0
exit
f241:
r0 = 0
exit
f242:
r0 = 0
exit
f243:
r0 = 0
exit
f244:
r0 = 0
exit
f245:
r0 = 0
exit
f246:
r0 = 0
exit
f247:
r0 = 0
exit
f248:
r0 = 0
exit
f249:
r0 = 0
exit
f250:
r0 = 0
exit
f251:
r0 = 0
exit
f252:
r0 = 0
exit
f253:
r0 = 0
exit
f254:
r0 = 0
exit
